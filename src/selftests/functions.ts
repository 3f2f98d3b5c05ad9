// functions.ts - tools/testing/selftests/livepatch/functions.sh on the emulated machine
//
// The helpers keep the shell script's order of steps and its log lines
// (`% insmod test_modules/M.ko`, written to /dev/kmsg) so check_result can
// compare dmesg with the kernel's expected output after the same filter.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { System } from '../system.ts';

export const MAX_RETRIES = 600;
/** RETRY_INTERVAL=.1 s of guest time. */
export const RETRY_INTERVAL_NS = 100_000_000n;
const SYSFS_KLP_DIR = '/sys/kernel/livepatch';
const SYSFS_TRACING_DIR = '/sys/kernel/tracing';

/** Where build-kernel puts the test modules (the scripts' test_modules/). */
export const TEST_MODULES = fileURLToPath(new URL('../../kernel-image/build/modules/', import.meta.url));

/** A failed step: the script would `die`. */
export class SelftestError extends Error {}

export class Selftest {
  private canary = 0;
  private testNo = 0;

  constructor(readonly sys: System, readonly modDir = TEST_MODULES) {}

  private sh(line: string): { out: string; err: string; status: number } {
    return this.sys.shell.run(line);
  }

  /** log(): echo "$msg" > /dev/kmsg */
  log(msg: string): void {
    this.sys.shell.writeFile('/dev/kmsg', `${msg}\n`);
  }

  /** loop_until(): retry every RETRY_INTERVAL of guest time, MAX_RETRIES times. */
  loopUntil(pred: () => boolean): boolean {
    for (let i = 0; i < MAX_RETRIES; i++) {
      if (pred()) return true;
      this.sys.kernel.machine.runFor(RETRY_INTERVAL_NS);
    }
    return pred();
  }

  private exists(path: string): boolean {
    return this.sys.kernel.vfs.exists(path) || this.sys.kernel.vfs.isDir(path);
  }

  private read(path: string): string {
    const r = this.sys.shell.readFile(path);
    return typeof r === 'number' ? '' : r.trim();
  }

  private modPath(mod: string): string {
    const p = join(this.modDir, `${mod}.ko`);
    if (!existsSync(p)) throw new SelftestError(`Can't find "test_modules/${mod}.ko", try "make"`);
    return p;
  }

  private insmod(mod: string, args: string[]): { status: number; err: string } {
    this.log(`% insmod test_modules/${mod}.ko${args.length ? ` ${args.join(' ')}` : ''}`);
    const r = this.sh(`insmod ${this.modPath(mod)} ${args.join(' ')}`);
    // insmod prints the test_modules/ path, as on the real machine.
    return { status: r.status, err: r.err.replaceAll(this.modPath(mod), `test_modules/${mod}.ko`) };
  }

  /** load_mod / load_lp_nowait / load_lp */
  loadMod(mod: string, ...args: string[]): void {
    const r = this.insmod(mod, args);
    if (r.status !== 0) throw new SelftestError(`failed to load module ${mod}: ${r.err}`);
    if (!this.loopUntil(() => this.exists(`/sys/module/${mod}`))) throw new SelftestError(`failed to load module ${mod}`);
  }

  loadLpNowait(mod: string, ...args: string[]): void {
    this.loadMod(mod, ...args);
    if (!this.loopUntil(() => this.exists(`${SYSFS_KLP_DIR}/${mod}`))) throw new SelftestError(`failed to load module ${mod} (sysfs)`);
  }

  loadLp(mod: string, ...args: string[]): void {
    this.loadLpNowait(mod, ...args);
    if (!this.loopUntil(() => this.read(`${SYSFS_KLP_DIR}/${mod}/transition`) === '0')) throw new SelftestError(`failed to complete transition`);
  }

  /** load_failing_mod: insmod must fail; its stderr goes to the log. */
  loadFailingMod(mod: string, ...args: string[]): void {
    const r = this.insmod(mod, args);
    if (r.status === 0) throw new SelftestError(`${mod} unexpectedly loaded`);
    this.log(r.err.trimEnd());
  }

  /** unload_mod / unload_lp */
  unloadMod(mod: string): void {
    if (!this.loopUntil(() => this.read(`/sys/module/${mod}/refcnt`) === '0')) throw new SelftestError(`failed to unload module ${mod} (refcnt)`);
    this.log(`% rmmod ${mod}`);
    const r = this.sh(`rmmod ${mod}`);
    if (r.status !== 0) throw new SelftestError(`failed to unload module ${mod}: ${r.err}`);
    if (!this.loopUntil(() => !this.exists(`/sys/module/${mod}`))) throw new SelftestError(`failed to unload module ${mod} (/sys/module)`);
  }

  unloadLp(mod: string): void {
    this.unloadMod(mod);
  }

  /** disable_lp: echo 0 > enabled, wait for the patch to be freed. */
  disableLp(mod: string): void {
    this.log(`% echo 0 > ${SYSFS_KLP_DIR}/${mod}/enabled`);
    this.sh(`echo 0 > ${SYSFS_KLP_DIR}/${mod}/enabled`);
    if (!this.loopUntil(() => !this.exists(`${SYSFS_KLP_DIR}/${mod}`))) throw new SelftestError(`failed to disable livepatch ${mod}`);
  }

  /** set_pre_patch_ret: echo V > /sys/module/M/parameters/pre_patch_ret, wait for the read-back. */
  setPrePatchRet(mod: string, value: number): void {
    const path = `/sys/module/${mod}/parameters/pre_patch_ret`;
    this.log(`% echo ${value} > ${path}`);
    this.sh(`echo ${value} > ${path}`);
    if (!this.loopUntil(() => this.read(path) === String(value))) throw new SelftestError(`failed to set pre_patch_ret parameter for ${mod} module`);
  }

  /** start_test: the canary line, then the test's banner. */
  startTest(name: string): void {
    this.testNo++;
    this.canary = this.sys.kernel.dmesg().length;
    this.log(`livepatch kselftest timestamp: ${this.testNo}`);
    this.canary++;
    this.log(`===== TEST: ${name} =====`);
  }

  /** The dmesg lines check_result compares: after the canary, livepatch/test_klp only, no taints, no timestamps. */
  resultLines(): string[] {
    return this.sys.kernel.dmesg().slice(this.canary)
      .filter((l) => /livepatch:|test_klp/.test(l) && !/tainting kernel|taints kernel/.test(l))
      .map((l) => l.replace(/^\[[ 0-9.]*\] /, '').replace(/^\[[ ]*[CT][0-9]*\] /, ''));
  }

  /** check_result: exact compare; returns the diff lines (empty when ok). */
  checkResult(expected: string): string[] {
    const want = expected.split('\n').filter((l) => l.length > 0);
    const got = this.resultLines();
    const diff: string[] = [];
    for (let i = 0; i < Math.max(want.length, got.length); i++) {
      if (want[i] !== got[i]) diff.push(`-${want[i] ?? ''}`, `+${got[i] ?? ''}`);
    }
    return diff;
  }

  /**
   * set_ftrace_enabled [--fail] V: sysctl -q kernel.ftrace_enabled=V; when the
   * read-back differs, with --fail its stderr goes to the log, else the test
   * cannot run (SKIP).
   */
  setFtraceEnabled(value: number, opts: { fail?: boolean } = {}): void {
    const r = this.sh(`sysctl -q kernel.ftrace_enabled=${value}`);
    const now = this.read('/proc/sys/kernel/ftrace_enabled');
    if (now !== String(value)) {
      if (!opts.fail) throw new SelftestError(`can't set sysctl kernel.ftrace_enabled=${value}`);
      this.log(`livepatch: ${r.err.trim().replaceAll('/proc/sys/kernel/', 'kernel.')}`);
      return;
    }
    this.log(`livepatch: kernel.ftrace_enabled = ${value}`);
  }

  /** check_sysfs_rights P rel mode: `stat --format '%A'` of $SYSFS_KLP_DIR/P/rel. */
  checkSysfsRights(mod: string, rel: string, expected: string): void {
    const path = `${SYSFS_KLP_DIR}/${mod}/${rel}`;
    const rights = this.sh(`stat --format '%A' ${path}`).out.trim();
    if (rights !== expected) throw new SelftestError(`Unexpected access rights of ${path}: ${expected} vs. ${rights}`);
  }

  /** check_sysfs_value P rel v: `cat` of $SYSFS_KLP_DIR/P/rel. */
  checkSysfsValue(mod: string, rel: string, expected: string): void {
    const path = `${SYSFS_KLP_DIR}/${mod}/${rel}`;
    const value = this.cat(path).trim();
    if (value !== expected) throw new SelftestError(`Unexpected value in ${path}: ${expected} vs. ${value}`);
  }

  /** cleanup_tracing: stop and clean up function tracing. */
  cleanupTracing(): void {
    this.sh(`echo 0 > ${SYSFS_TRACING_DIR}/tracing_on`);
    this.sh(`echo "" > ${SYSFS_TRACING_DIR}/set_ftrace_filter`);
    this.sh(`echo "nop" > ${SYSFS_TRACING_DIR}/current_tracer`);
    this.sh(`echo "" > ${SYSFS_TRACING_DIR}/trace`);
  }

  /** trace_function F: the function tracer on F only. */
  traceFunction(func: string): void {
    this.cleanupTracing();
    this.sh(`echo "function" > ${SYSFS_TRACING_DIR}/current_tracer`);
    this.sh(`echo "${func}" > ${SYSFS_TRACING_DIR}/set_ftrace_filter`);
    this.sh(`echo 1 > ${SYSFS_TRACING_DIR}/tracing_on`);
  }

  /** check_traced_functions F...: each one appears in the trace (grep -Fwq), then cleanup_tracing. */
  checkTracedFunctions(...funcs: string[]): void {
    for (const f of funcs) {
      if (this.sh(`grep -Fwq "${f}" ${SYSFS_TRACING_DIR}/trace`).status !== 0) throw new SelftestError(`Function (${f}) did not appear in the trace`);
    }
    this.cleanupTracing();
  }

  /** Entries in /sys/kernel/livepatch (ls | wc -l). */
  livepatchEntries(): number {
    return this.sys.kernel.vfs.list(SYSFS_KLP_DIR).length;
  }

  /** `cat FILE` as the scripts use it. */
  cat(path: string): string {
    const r = this.sh(`cat ${path}`);
    return r.out;
  }

  /** `grep -q PATTERN FILE`: true when a line matches. */
  grepQ(pattern: string, path: string): boolean {
    return this.sh(`grep -q '${pattern}' ${path}`).status === 0;
  }

  /** getconf _NPROCESSORS_ONLN */
  nproc(): number {
    return Number(this.sh('getconf _NPROCESSORS_ONLN').out.trim());
  }

  /** `PROGRAM &` then `$!`: a background process (a guest task), its pid. */
  startBackground(program: string): number {
    const r = this.sh(`${program} &`);
    if (r.status !== 0) throw new SelftestError(r.err.trim());
    return Number(this.sh('echo $!').out.trim());
  }

  /** `kill PID || true` */
  kill(pid: number): void {
    this.sh(`kill ${pid}`);
  }

  grepToKmsg(pattern: string, path: string): void {
    this.sh(`grep '${pattern}' ${path} > /dev/kmsg`);
  }
}
