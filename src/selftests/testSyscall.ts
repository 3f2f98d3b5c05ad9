// testSyscall.ts - tools/testing/selftests/livepatch/test-syscall.sh: patch getpid while min(nproc, 128) processes hammer it

import type { Scenario } from './testLivepatch.ts';
import { disable, en, insmod, lines, rmmod, un } from './notation.ts';

const MOD_SYSCALL = 'test_klp_syscall';
const SYSFS_KERNEL_DIR = '/sys/kernel';
const MAXPROC = 128;

/** The pids of the last run: the expected output names them, as the script's $pid_list. */
let pidList = '';

/**
 * Start _NPROCESSORS_ONLN (at most 128) copies of test_klp-call_getpid, load
 * test_klp_syscall with their pids, and wait until each of them has called
 * the livepatched getpid (npids reads 0): only a task the transition
 * switched runs the new function, so every process went through the
 * consistency model while calling getpid in a loop.
 */
export const SYSCALL: Scenario = {
  name: 'patch getpid syscall while being heavily hammered',
  run(t) {
    const nproc = t.nproc();
    const pids: number[] = [];
    for (let i = 1; i <= Math.min(nproc, MAXPROC); i++) pids.push(t.startBackground('./test_klp-call_getpid'));
    pidList = pids.join(',');
    t.loadLp(MOD_SYSCALL, `klp_pids=${pidList}`);
    // wait for all tasks to transition to patched state
    t.loopUntil(() => t.grepQ('^0$', `${SYSFS_KERNEL_DIR}/${MOD_SYSCALL}/npids`));
    const pending = t.cat(`${SYSFS_KERNEL_DIR}/${MOD_SYSCALL}/npids`).trim();
    t.log(`${MOD_SYSCALL}: Remaining not livepatched processes: ${pending}`);
    for (const pid of pids) t.kill(pid);
    t.disableLp(MOD_SYSCALL);
    t.unloadLp(MOD_SYSCALL);
  },
  get expected() {
    return lines(insmod(MOD_SYSCALL, `klp_pids=${pidList}`), en(MOD_SYSCALL), `${MOD_SYSCALL}: Remaining not livepatched processes: 0`,
      disable(MOD_SYSCALL), un(MOD_SYSCALL), rmmod(MOD_SYSCALL));
  },
};

export const TEST_SYSCALL: Scenario[] = [SYSCALL];
