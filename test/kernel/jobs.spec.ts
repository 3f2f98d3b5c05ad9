// jobs.spec.ts - the shell's background programs (vfork + execve by the shell task), $!, and kill(2) with the default signal actions
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../src/system.ts';
import { bootSystem, sh } from '../helpers/klpHarness.ts';

const PROG = './test_klp-call_getpid';

describe('[kernel]: background jobs and kill', () => {
  let sys: System;
  beforeAll(() => {
    sys = bootSystem({ seed: 5 });
  });
  afterAll(() => sys.kernel.machine.close());
  const alive = (pid: number): boolean => sys.kernel.tasks().some((t) => t.pid === pid);
  const run = (ns = 20_000_000n): void => sys.kernel.machine.runFor(ns);

  it('PROGRAM & runs it as a new task named after it; $! is its pid; it hammers getpid in user mode', () => {
    expect(sh(sys, 'echo $!').out).toBe('\n');
    expect(sh(sys, `${PROG} &`)).toEqual({ out: '', err: '', status: 0 });
    const pid = Number(sh(sys, 'echo $!').out);
    const task = sys.kernel.findTask(pid)!;
    expect(task.comm).toBe('test_klp-call_g');
    const klpsh = sys.kernel.tasks().find((t) => t.comm === 'klpsh')!;
    expect(pid).toBeGreaterThan(klpsh.pid);
    const before = sys.kernel.tasks().length;
    run();
    expect(alive(pid)).toBe(true);
    expect(sys.kernel.tasks().length).toBe(before);
    expect(sh(sys, `kill ${pid}`).status).toBe(0);
    run();
    expect(alive(pid)).toBe(false);
  });

  it('a missing program fails in the child (execve -ENOENT) and the shell reports it; programs run only in the background', () => {
    const n = sys.kernel.tasks().length;
    expect(sh(sys, './no_such_program &')).toEqual({ out: '', err: 'sh: ./no_such_program: No such file or directory\n', status: 127 });
    run();
    expect(sys.kernel.tasks().length).toBe(n);
    expect(sh(sys, PROG).status).toBe(126);
    expect(sh(sys, 'kill 99999')).toEqual({ out: '', err: 'sh: kill: (99999) - No such process\n', status: 1 });
    expect(sh(sys, 'kill -FOO 1').err).toBe('sh: kill: FOO: invalid signal specification\n');
  });

  it('default actions: SIGCHLD and kill -0 leave it running; SIGHUP, -s INT and -9 end it at its next return to user mode', () => {
    for (const how of ['-HUP', '-s INT', '-9', '-SIGKILL']) {
      sh(sys, `${PROG} &`);
      const pid = sys.shell.jobs.lastBgPid!;
      expect(sh(sys, `kill -0 ${pid}`).status).toBe(0);
      expect(sh(sys, `kill -CHLD ${pid}`).status).toBe(0);
      run();
      expect(alive(pid), `${how} before`).toBe(true);
      expect(sh(sys, `kill ${how} ${pid}`).status).toBe(0);
      run();
      expect(alive(pid), how).toBe(false);
    }
  });

  it('a task sleeping interruptibly is woken to die; kernel threads ignore signals', () => {
    const sleeper = sys.kernel.tasks().find((t) => t.comm === 'getpid_loop')!;
    expect(sh(sys, `kill ${sleeper.pid}`).status).toBe(0);
    run();
    expect(alive(sleeper.pid)).toBe(false);
    const kthread = sys.kernel.tasks().find((t) => t.comm === 'khungtaskd')!;
    expect(sh(sys, `kill -9 ${kthread.pid}`).status).toBe(0);
    run();
    expect(alive(kthread.pid)).toBe(true);
  });

  it('grep without -F takes a basic regular expression (the selftests grep -q ^0$)', () => {
    expect(sh(sys, 'getconf _NPROCESSORS_ONLN').out).toBe('2\n');
    expect(sh(sys, "grep -q '^2$' /sys/kernel/tracing/tracing_on").status).toBe(1);
    expect(sh(sys, "grep '^[0-9]$' /sys/kernel/tracing/tracing_on").out).toMatch(/^[01]\n$/);
    expect(sh(sys, "grep -F '^[0-9]$' /sys/kernel/tracing/tracing_on").status).toBe(1);
  });
});
