// jobs.ts - the shell's background jobs and kill: `PROGRAM &` (vfork + execve by the shell task), `$!`, `kill [-SIG] PID...`

import type { Kernel } from './kernel.ts';
import { killTask, spawnProgram } from './klpsh.ts';
import { Errno, strerror } from './errno.ts';

/** Signal numbers by name (x86-64, include/uapi/asm-generic/signal.h). */
export const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12,
  PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22,
  URG: 23, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, PWR: 30, SYS: 31,
};

const SIGTERM = 15;

/** What a job command returns (the shell's ShellResult). */
export interface JobResult {
  out: string;
  err: string;
  status: number;
}

const ok = (out = ''): JobResult => ({ out, err: '', status: 0 });
const fail = (err: string, status = 1): JobResult => ({ out: '', err: err + '\n', status });

/**
 * The shell's job state: the pid of the last background job (`$!`) and every
 * job started. A job is a real guest task: the shell task (klpsh) vforks, the
 * child execs the program (kernel-image/exec.S) and the shell goes on.
 */
export class Jobs {
  /** `$!`: the pid of the last background job, if any. */
  lastBgPid: number | undefined;
  readonly started: number[] = [];

  constructor(readonly kernel: Kernel) {}

  /** Expand `$!` as sh does (empty before the first background job). */
  expand(line: string): string {
    return line.replace(/\$!/g, this.lastBgPid === undefined ? '' : String(this.lastBgPid));
  }

  /** `PROGRAM [ARGS] &`: run PROGRAM as a new task; sh prints nothing (not interactive). */
  background(program: string): JobResult {
    const pid = spawnProgram(this.kernel, program);
    if (pid < 0) return fail(`sh: ${program}: ${strerror(pid)}`, pid === -Errno.ENOENT ? 127 : 126);
    this.lastBgPid = pid;
    this.started.push(pid);
    return ok();
  }

  /** `kill [-s SIG | -SIG | -N] PID...` (default SIGTERM), each through kill(2) by the shell task. */
  kill(args: string[]): JobResult {
    let sig = SIGTERM;
    const pids: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      const spec = a === '-s' || a === '-n' ? args[++i] : a.startsWith('-') && pids.length === 0 ? a.slice(1) : undefined;
      if (spec === undefined) {
        pids.push(a);
        continue;
      }
      const n = /^\d+$/.test(spec) ? Number(spec) : SIGNALS[spec.toUpperCase().replace(/^SIG/, '')];
      if (n === undefined || n > 64) return fail(`sh: kill: ${spec}: invalid signal specification`);
      sig = n;
    }
    if (pids.length === 0) return fail('kill: usage: kill [-s sigspec | -n signum | -sigspec] pid ...', 2);
    let status = 0;
    let err = '';
    for (const p of pids) {
      if (!/^\d+$/.test(p)) {
        err += `sh: kill: ${p}: arguments must be process or job IDs\n`;
        status = 1;
        continue;
      }
      const ret = killTask(this.kernel, Number(p), sig);
      if (ret < 0) {
        err += `sh: kill: (${p}) - ${strerror(ret)}\n`;
        status = 1;
      }
    }
    return { out: '', err, status };
  }
}
