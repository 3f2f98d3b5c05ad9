// guestSwitchPaths.spec.ts - guest code switches tasks: exit_to_user_mode_loop and do_idle call klp_update_patch_state between host retries
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../src/system.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import type { TaskView } from '../../src/kernel/tasks.ts';
import { KlpState } from '../../src/abi/layout.ts';
import {
  bootSystem, DEFAULT_CMDLINE_OUT, forgePatchState, hasPatchPending, koPath, MS, procPatchState, reread, SAMPLE_OUT, setCmdlineDelay, sh,
  traceCalls,
} from '../helpers/klpHarness.ts';

describe('[livepatch/transition]: the exit-to-user and idle paths switch tasks in guest code', () => {
  let sys: System;
  let k: Kernel;
  let calls: ReturnType<typeof traceCalls>;
  let klpsh: TaskView;
  let cat: TaskView;
  /** Tasks the host's first klp_try_complete_transition could not switch. */
  let leftByHost: { pid: number; comm: string; reason: string }[];
  const attempts = (): number => sys.livepatch.transition.attempts;

  beforeAll(() => {
    sys = bootSystem({ seed: 7 });
    k = sys.kernel;
    klpsh = k.tasks().find((t) => t.comm === 'klpsh')!;
    cat = k.tasks().find((t) => t.comm === 'cat_cmdline')!;
    // cat_cmdline sleeps in the old function for 3 s: the transition stays open meanwhile.
    setCmdlineDelay(k, 3000);
    k.machine.runFor(300n * MS);
    setCmdlineDelay(k, 0);
    calls = traceCalls(k, 'klp_update_patch_state');
    expect(sh(sys, `insmod ${koPath('livepatch-sample.ko')}`).status).toBe(0);
    leftByHost = sys.livepatch.transition.blocked.map((b) => ({ pid: b.pid, comm: b.comm, reason: b.reason }));
  });
  afterAll(() => k.machine.close());

  it('the host could not switch the running tasks: they were on a CPU at its attempt', () => {
    expect(attempts()).toBe(1);
    expect(leftByHost).toContainEqual({ pid: cat.pid, comm: 'cat_cmdline', reason: 'sleeping-on-function' });
    expect(leftByHost.filter((b) => b.reason === 'running').length).toBeGreaterThan(0);
    expect(calls).toEqual([]); // nothing switched in guest code yet
  });

  it('within 200 ms, before any retry, every running task switched itself through klp_update_patch_state', () => {
    k.machine.runFor(200n * MS);
    expect(attempts()).toBe(1);
    for (const b of leftByHost.filter((x) => x.reason === 'running')) {
      const idle = b.comm.startsWith('swapper/');
      const t = idle ? k.idleTasks()[Number(b.comm.split('/')[1])]! : k.findTask(b.pid)!;
      expect(t.patchState, b.comm).toBe(KlpState.PATCHED);
      expect(hasPatchPending(k, t), b.comm).toBe(false);
      expect(calls.filter((c) => c.comm === b.comm && c.pendingBefore).map((c) => c.caller), b.comm)
        .toContain(idle ? 'do_idle' : 'exit_to_user_mode_loop');
    }
    // cat_cmdline is still asleep in the old function: not switched, no guest call for it.
    expect(procPatchState(sys, cat.pid)).toBe(KlpState.UNPATCHED);
    expect(calls.some((c) => c.comm === 'cat_cmdline')).toBe(false);
  });

  it('klpsh with TIF_PATCH_PENDING switches on its way out of a syscall, before it reads /proc/cmdline', () => {
    forgePatchState(k, klpsh, KlpState.UNPATCHED, true);
    const n = calls.length;
    const before = attempts();
    expect(sh(sys, 'cat /proc/cmdline').out).toBe(SAMPLE_OUT);
    expect(attempts()).toBe(before);
    expect(calls.slice(n).filter((c) => c.comm === 'klpsh')).toEqual([
      { cpu: expect.any(Number), pid: klpsh.pid, comm: 'klpsh', caller: 'exit_to_user_mode_loop', pendingBefore: true },
    ]);
    expect(procPatchState(sys, klpsh.pid)).toBe(KlpState.PATCHED);
    expect(hasPatchPending(k, klpsh)).toBe(false);
  });

  it('negative control: without TIF_PATCH_PENDING the same syscalls leave klpsh unswitched, running the old function', () => {
    forgePatchState(k, klpsh, KlpState.UNPATCHED, false);
    const n = calls.length;
    expect(sh(sys, 'cat /proc/cmdline').out).toBe(DEFAULT_CMDLINE_OUT);
    expect(calls.slice(n).some((c) => c.comm === 'klpsh')).toBe(false);
    expect(procPatchState(sys, klpsh.pid)).toBe(KlpState.UNPATCHED);
    forgePatchState(k, klpsh, KlpState.PATCHED, false);
  });

  it('an idle task forged back to unpatched switches in do_idle, not by the host', () => {
    const before = attempts();
    const idle = k.idleTasks();
    for (const t of idle) forgePatchState(k, t, KlpState.UNPATCHED, true);
    const n = calls.length;
    k.machine.runFor(200n * MS);
    expect(attempts()).toBe(before);
    for (const t of idle) {
      const now = reread(k, t);
      expect(now.patchState, now.comm).toBe(KlpState.PATCHED);
      expect(calls.slice(n).filter((c) => c.comm === t.comm).map((c) => `${c.cpu}:${c.caller}`)).toContain(`${t.cpu}:do_idle`);
    }
  });

  it('the transition then completes once cat_cmdline wakes and returns to user mode', () => {
    expect(k.runUntil(() => !sys.livepatch.transition.patch, 4000n * MS)).toBe(true);
    expect(calls.some((c) => c.comm === 'cat_cmdline' && c.caller === 'exit_to_user_mode_loop')).toBe(true);
    expect(k.dmesg().at(-1)).toMatch(/livepatch: 'livepatch_sample': patching complete$/);
  });
});
