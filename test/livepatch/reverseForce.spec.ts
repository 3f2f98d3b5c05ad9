// reverseForce.spec.ts - `enabled` written during a held transition reverses it (both ways); `force` completes one without waiting for the sleeper
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../src/system.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import type { TaskView } from '../../src/kernel/tasks.ts';
import { KlpState } from '../../src/abi/layout.ts';
import {
  bootSystem, catReads, DEFAULT_CMDLINE_OUT, dmesgSince, hasPatchPending, koPath, MS, procPatchState, SAMPLE_OUT, setCmdlineDelay, sh,
} from '../helpers/klpHarness.ts';

const LP = '/sys/kernel/livepatch/livepatch_sample';
const ok = { out: '', err: '', status: 0 };

describe('[livepatch/transition]: reverse and force while cat_cmdline sleeps in the old cmdline_proc_show', () => {
  let sys: System;
  let k: Kernel;
  let cat: TaskView;
  let klpsh: TaskView;
  const read = (f: string): string => sh(sys, `cat ${LP}/${f}`).out;

  beforeAll(() => {
    sys = bootSystem({ seed: 3 });
    k = sys.kernel;
    cat = k.tasks().find((t) => t.comm === 'cat_cmdline')!;
    klpsh = k.tasks().find((t) => t.comm === 'klpsh')!;
    setCmdlineDelay(k, 6000); // cat_cmdline sleeps inside for 6 s of guest time
    k.machine.runFor(300n * MS);
    setCmdlineDelay(k, 0);
  });
  afterAll(() => k.machine.close());

  it('echo 0 > enabled during patching: "reversing transition from patching to unpatching"; switched tasks go back', () => {
    expect(sh(sys, `insmod ${koPath('livepatch-sample.ko')}`)).toEqual(ok);
    expect(read('transition')).toBe('1\n');
    expect(procPatchState(sys, klpsh.pid)).toBe(KlpState.PATCHED);
    expect(sh(sys, 'cat /proc/cmdline').out).toBe(SAMPLE_OUT);
    const from = k.dmesg().length;
    expect(sh(sys, `echo 0 > ${LP}/enabled`)).toEqual(ok);
    expect(dmesgSince(sys, from)).toEqual([
      "livepatch: 'livepatch_sample': reversing transition from patching to unpatching",
      "livepatch: 'livepatch_sample': starting unpatching transition",
    ]);
    expect(read('enabled')).toBe('0\n');
    expect(read('transition')).toBe('1\n');
    // Writing the value it already has is refused, in a transition as outside one.
    expect(sh(sys, `echo 0 > ${LP}/enabled`)).toEqual({ out: '', err: 'sh: echo: write error: Invalid argument\n', status: 1 });
    // klpsh is patched with a switch pending: it goes back on its way to user mode, before reading.
    expect(hasPatchPending(k, klpsh)).toBe(true);
    expect(procPatchState(sys, cat.pid)).toBe(KlpState.UNPATCHED);
    expect(hasPatchPending(k, cat)).toBe(false); // already in the new target state
    expect(sh(sys, 'cat /proc/cmdline').out).toBe(DEFAULT_CMDLINE_OUT);
    expect(procPatchState(sys, klpsh.pid)).toBe(KlpState.UNPATCHED);
  });

  it('echo 1 > enabled reverses it again: "from unpatching to patching"', () => {
    const from = k.dmesg().length;
    expect(sh(sys, `echo 1 > ${LP}/enabled`)).toEqual(ok);
    expect(dmesgSince(sys, from)).toEqual([
      "livepatch: 'livepatch_sample': reversing transition from unpatching to patching",
      "livepatch: 'livepatch_sample': starting patching transition",
    ]);
    expect(read('enabled')).toBe('1\n');
    expect(hasPatchPending(k, cat)).toBe(true);
    expect(sh(sys, 'cat /proc/cmdline').out).toBe(SAMPLE_OUT);
  });

  it('reversed to unpatching once more, it completes at the next retry although cat_cmdline still sleeps (only the new function is checked)', () => {
    const reads = catReads(k);
    const from = k.dmesg().length;
    expect(sh(sys, `echo 0 > ${LP}/enabled`)).toEqual(ok);
    expect(k.runUntil(() => !sys.livepatch.transition.patch, 1100n * MS)).toBe(true);
    expect(dmesgSince(sys, from)).toEqual([
      "livepatch: 'livepatch_sample': reversing transition from patching to unpatching",
      "livepatch: 'livepatch_sample': starting unpatching transition",
      "livepatch: 'livepatch_sample': completing unpatching transition",
      "livepatch: 'livepatch_sample': unpatching complete",
    ]);
    expect(catReads(k)).toBe(reads);
    expect(sh(sys, 'ls /sys/kernel/livepatch').out).toBe('');
    expect(sh(sys, 'cat /proc/cmdline').out).toBe(DEFAULT_CMDLINE_OUT);
    expect(sh(sys, 'rmmod livepatch_sample')).toEqual(ok);
  });

  it('echo 1 > force: "forcing remaining tasks to the patched state"; done at the next retry, the sleeper still inside', () => {
    expect(sh(sys, `insmod ${koPath('livepatch-sample.ko')}`)).toEqual(ok);
    k.machine.runFor(1100n * MS);
    expect(read('transition')).toBe('1\n');
    expect(sys.livepatch.transition.blocked.map((b) => `${b.comm}:${b.reason}:${b.detail}`)).toEqual(['cat_cmdline:sleeping-on-function:cmdline_proc_show']);
    const reads = catReads(k);
    const from = k.dmesg().length;
    expect(sh(sys, `echo 1 > ${LP}/force`)).toEqual(ok);
    expect(procPatchState(sys, cat.pid)).toBe(KlpState.PATCHED);
    expect(hasPatchPending(k, cat)).toBe(false);
    expect(k.runUntil(() => !sys.livepatch.transition.patch, 1100n * MS)).toBe(true);
    expect(dmesgSince(sys, from)).toEqual([
      'livepatch: forcing remaining tasks to the patched state',
      "livepatch: 'livepatch_sample': completing patching transition",
      "livepatch: 'livepatch_sample': patching complete",
    ]);
    expect(catReads(k)).toBe(reads); // completed without cat_cmdline leaving the old function
    expect(read('transition')).toBe('0\n');
    expect(sh(sys, 'cat /proc/cmdline').out).toBe(SAMPLE_OUT);
    // Forcing towards patched does not pin a non-replace patch's module.
    expect(sh(sys, `echo 0 > ${LP}/enabled`)).toEqual(ok);
    expect(k.runUntil(() => !sys.livepatch.transition.patch, 1100n * MS)).toBe(true);
    expect(sh(sys, 'rmmod livepatch_sample')).toEqual(ok);
    expect(k.runUntil(() => catReads(k) > reads, 5000n * MS)).toBe(true);
    expect(k.oopses).toEqual([]);
  });
});
