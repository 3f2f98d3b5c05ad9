// unreliableStack.spec.ts - forged frames in a sleeping kthread's stack: not switched (unreliable-stack) until restored; force pins a module
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../src/system.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import type { TaskView } from '../../src/kernel/tasks.ts';
import { KlpState, MemoryMap, TASK } from '../../src/abi/layout.ts';
import {
  bootSystem, dmesgLines, dmesgSince, hasPatchPending, koPath, MS, procPatchState, returnSlotInto, SECOND, sh,
} from '../helpers/klpHarness.ts';

const LP = '/sys/kernel/livepatch/livepatch_sample';
/** A direct-map (heap) address: mapped, but not kernel or module text. */
const NOT_TEXT = MemoryMap.DIRECT_MAP + 0x1000n;

describe('[livepatch/transition]: a task whose stack is unreliable is not switched', () => {
  let sys: System;
  let k: Kernel;
  let sleeper: TaskView;
  /** ksleeper's frame record returning into ret_from_fork: sleeper_thread never returns, so forging it is harmless. */
  let slot: bigint;
  let orig: bigint;
  const switches = (): bigint => k.machine.mem.readU64(sleeper.addr + BigInt(TASK.switch_count));

  beforeAll(() => {
    sys = bootSystem({ seed: 5, nrSleepers: 1 });
    k = sys.kernel;
    k.machine.runFor(100n * MS);
    sleeper = k.tasks().find((t) => t.comm === 'ksleeper')!;
    slot = returnSlotInto(k, sleeper, 'ret_from_fork');
    orig = k.machine.mem.readU64(slot);
  });
  afterAll(() => k.machine.close());

  it('the unwinder flags the forged return address (and accepts the original)', () => {
    expect(k.isKernelText(orig)).toBe(true);
    expect(k.stackTraceReliable(k.findTask(sleeper.pid)!).ok).toBe(true);
    k.machine.mem.writeU64(slot, NOT_TEXT);
    const t = k.stackTraceReliable(k.findTask(sleeper.pid)!);
    expect(t.ok).toBe(false);
    expect(t.ok ? '' : t.reason).toBe('ip-not-text');
  });

  it('insmod: ksleeper stays unpatched and blocks the transition with reason unreliable-stack', () => {
    expect(sh(sys, `insmod ${koPath('livepatch-sample.ko')}`).status).toBe(0);
    const b = sys.livepatch.transition.blocked.find((x) => x.pid === sleeper.pid);
    expect(b?.reason).toBe('unreliable-stack');
    expect(b?.detail).toBe(`return address 0x${NOT_TEXT.toString(16)} at 0x${slot.toString(16)} is not kernel text`);
    expect(procPatchState(sys, sleeper.pid)).toBe(KlpState.UNPATCHED);
    expect(hasPatchPending(k, sleeper)).toBe(true);
  });

  it('retries keep failing on it alone while the kthread keeps running its loop', () => {
    const attempts = sys.livepatch.transition.attempts;
    const sw = switches();
    k.machine.runFor(2500n * MS);
    expect(sys.livepatch.transition.attempts).toBeGreaterThanOrEqual(attempts + 2);
    expect(sys.livepatch.transition.blocked).toEqual([
      { pid: sleeper.pid, comm: 'ksleeper', reason: 'unreliable-stack', detail: expect.stringContaining('is not kernel text') },
    ]);
    expect(sh(sys, `cat ${LP}/transition`).out).toBe('1\n');
    expect(procPatchState(sys, sleeper.pid)).toBe(KlpState.UNPATCHED);
    expect(switches()).toBeGreaterThan(sw); // it slept and woke: the forged frame is off its path
    expect(dmesgLines(sys)).not.toContain("livepatch: 'livepatch_sample': patching complete");
  });

  it('negative control: the original return address back, the next retry switches it and completes', () => {
    k.machine.mem.writeU64(slot, orig);
    expect(k.stackTraceReliable(k.findTask(sleeper.pid)!).ok).toBe(true);
    expect(k.runUntil(() => !sys.livepatch.transition.patch, 1100n * MS)).toBe(true);
    expect(dmesgLines(sys).slice(-2)).toEqual([
      "livepatch: 'livepatch_sample': completing patching transition",
      "livepatch: 'livepatch_sample': patching complete",
    ]);
    expect(sh(sys, `cat ${LP}/transition`).out).toBe('0\n');
    expect(procPatchState(sys, sleeper.pid)).toBe(KlpState.UNDEFINED);
  });

  it('a saved frame pointer leaving the stack also blocks (unpatching); force completes it and pins the module', () => {
    const fpSlot = slot - 8n; // the saved RBP of the same frame record
    const fpOrig = k.machine.mem.readU64(fpSlot);
    k.machine.mem.writeU64(fpSlot, NOT_TEXT);
    const t = k.stackTraceReliable(k.findTask(sleeper.pid)!);
    expect(t.ok ? '' : t.reason).toBe('fp-outside-stack');
    const from = k.dmesg().length;
    expect(sh(sys, `echo 0 > ${LP}/enabled`).status).toBe(0);
    k.machine.runFor(1100n * MS);
    expect(sys.livepatch.transition.blocked.map((b) => `${b.comm}:${b.reason}`)).toEqual(['ksleeper:unreliable-stack']);
    expect(procPatchState(sys, sleeper.pid)).toBe(KlpState.PATCHED);
    expect(sh(sys, `echo 1 > ${LP}/force`)).toEqual({ out: '', err: '', status: 0 });
    expect(procPatchState(sys, sleeper.pid)).toBe(KlpState.UNPATCHED);
    expect(hasPatchPending(k, sleeper)).toBe(false);
    expect(k.runUntil(() => !sys.livepatch.transition.patch, 1100n * MS)).toBe(true);
    expect(dmesgSince(sys, from)).toEqual([
      "livepatch: 'livepatch_sample': initializing unpatching transition",
      "livepatch: 'livepatch_sample': starting unpatching transition",
      'livepatch: forcing remaining tasks to the patched state',
      "livepatch: 'livepatch_sample': completing unpatching transition",
      "livepatch: 'livepatch_sample': unpatching complete",
    ]);
    k.machine.mem.writeU64(fpSlot, fpOrig);
    expect(sh(sys, `cat /proc/cmdline`).out).toBe(`${k.machine.mem.readCString(k.sym('saved_command_line'), 256)}\n`);
    // A forced patch's module reference is never dropped.
    expect(sh(sys, 'cat /sys/module/livepatch_sample/refcnt').out).toBe('1\n');
    expect(sh(sys, 'rmmod livepatch_sample')).toEqual({ out: '', err: 'rmmod: ERROR: Module livepatch_sample is in use\n', status: 1 });
    expect(sh(sys, 'ls /sys/kernel/livepatch').out).toBe('');
    k.machine.runFor(SECOND / 10n);
    expect(k.oopses).toEqual([]);
  });
});
