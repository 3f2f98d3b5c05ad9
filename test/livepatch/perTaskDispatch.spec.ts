// perTaskDispatch.spec.ts - during a held transition each task runs the cmdline_proc_show its patch_state says; a sleeper in the old function holds completion
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../src/system.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import type { TaskView } from '../../src/kernel/tasks.ts';
import { KlpState } from '../../src/abi/layout.ts';
import {
  bootSystem, catBuffer, catReads, DEFAULT_CMDLINE_OUT, dmesgLines, forgePatchState, hasPatchPending, koPath, MS, nextCatRead,
  procPatchState, SAMPLE_OUT, SECOND, setCmdlineDelay, sh,
} from '../helpers/klpHarness.ts';

const LP = '/sys/kernel/livepatch/livepatch_sample';

describe('[livepatch/transition]: per-task dispatch while cat_cmdline sleeps inside cmdline_proc_show', () => {
  let sys: System;
  let k: Kernel;
  let cat: TaskView;
  let klpsh: TaskView;
  let readsAtHold: bigint;
  const transition = (): string => sh(sys, `cat ${LP}/transition`).out;
  const cmdline = (): string => {
    const r = sh(sys, 'cat /proc/cmdline');
    expect(r.status).toBe(0);
    return r.out;
  };

  beforeAll(() => {
    sys = bootSystem({ seed: 7 });
    k = sys.kernel;
    cat = k.tasks().find((t) => t.comm === 'cat_cmdline')!;
    klpsh = k.tasks().find((t) => t.comm === 'klpsh')!;
    // Every reader now sleeps 3 s inside cmdline_proc_show; cat_cmdline enters it within 50 ms.
    setCmdlineDelay(k, 3000);
    k.machine.runFor(800n * MS);
  });
  afterAll(() => k.machine.close());

  it('insmod starts a transition that cat_cmdline, asleep in the old function, holds back', () => {
    readsAtHold = catReads(k);
    expect(sh(sys, `insmod ${koPath('livepatch-sample.ko')}`)).toEqual({ out: '', err: '', status: 0 });
    expect(transition()).toBe('1\n');
    const blocked = sys.livepatch.transition.blocked.find((b) => b.pid === cat.pid);
    expect(blocked).toEqual({ pid: cat.pid, comm: 'cat_cmdline', reason: 'sleeping-on-function', detail: 'cmdline_proc_show' });
    // Its saved stack really holds a return address inside the old cmdline_proc_show.
    const old = k.kallsyms.lookup('cmdline_proc_show')!;
    const trace = k.stackTraceReliable(k.findTask(cat.pid)!);
    expect(trace.ok).toBe(true);
    expect(trace.entries.some((a) => a > old.addr && a < old.addr + BigInt(old.size))).toBe(true);
    expect(procPatchState(sys, cat.pid)).toBe(KlpState.UNPATCHED);
    expect(hasPatchPending(k, cat)).toBe(true);
    setCmdlineDelay(k, 0); // later calls return at once; cat_cmdline stays in its 3 s sleep
  });

  it('the switched klpsh runs the new function; forged back to unswitched it runs the old one', () => {
    expect(procPatchState(sys, klpsh.pid)).toBe(KlpState.PATCHED);
    expect(cmdline()).toBe(SAMPLE_OUT);
    forgePatchState(k, klpsh, KlpState.UNPATCHED, false);
    expect(procPatchState(sys, klpsh.pid)).toBe(KlpState.UNPATCHED);
    expect(cmdline()).toBe(DEFAULT_CMDLINE_OUT);
    expect(procPatchState(sys, klpsh.pid)).toBe(KlpState.UNPATCHED); // no TIF_PATCH_PENDING: nothing switched it
    expect(transition()).toBe('1\n');
    forgePatchState(k, klpsh, KlpState.PATCHED, false);
    expect(cmdline()).toBe(SAMPLE_OUT);
  });

  it('retries do not complete the transition while cat_cmdline is still inside the old function', () => {
    const attempts = sys.livepatch.transition.attempts;
    k.machine.runFor(2n * SECOND); // guest ~2.8 s: two retries, cat_cmdline wakes at ~3.05 s
    expect(sys.livepatch.transition.attempts).toBeGreaterThanOrEqual(attempts + 2);
    expect(transition()).toBe('1\n');
    expect(sys.livepatch.transition.blocked.map((b) => `${b.comm}:${b.reason}:${b.detail}`)).toContain('cat_cmdline:sleeping-on-function:cmdline_proc_show');
    expect(catReads(k)).toBe(readsAtHold);
    expect(dmesgLines(sys)).not.toContain("livepatch: 'livepatch_sample': patching complete");
  });

  it('cat_cmdline: the old call finishes old; fresh calls follow its patch_state while klpsh (patched) gets the new text', () => {
    const mem = k.machine.mem;
    mem.write(k.sym('user_cat_buf'), Buffer.alloc(256));
    mem.writeU64(k.sym('user_cat_len'), 0n);
    // Keep it unswitched when it returns to user mode: no TIF_PATCH_PENDING.
    forgePatchState(k, cat, KlpState.UNPATCHED, false);
    /** One more read by cat_cmdline; it must start and end in `state` with the transition still held. */
    const read = (state: number): string => {
      expect(nextCatRead(k)).toBe(true);
      expect(transition(), 'the transition is still held').toBe('1\n');
      expect(procPatchState(sys, cat.pid)).toBe(state);
      return catBuffer(k);
    };
    expect(read(KlpState.UNPATCHED)).toBe(DEFAULT_CMDLINE_OUT); // the call that slept since before the patch
    expect(read(KlpState.UNPATCHED)).toBe(DEFAULT_CMDLINE_OUT); // a fresh call, still unswitched
    expect(cmdline()).toBe(SAMPLE_OUT); // same moment, klpsh (patched)
    forgePatchState(k, cat, KlpState.PATCHED, false);
    expect(read(KlpState.PATCHED)).toBe(SAMPLE_OUT);
    forgePatchState(k, klpsh, KlpState.UNPATCHED, false);
    expect(cmdline()).toBe(DEFAULT_CMDLINE_OUT); // and the other way round
    forgePatchState(k, klpsh, KlpState.PATCHED, false);
    forgePatchState(k, cat, KlpState.UNPATCHED, false);
    expect(read(KlpState.UNPATCHED)).toBe(DEFAULT_CMDLINE_OUT);
  });

  it('once cat_cmdline left the old function the next retry completes the transition', () => {
    expect(k.runUntil(() => !sys.livepatch.transition.patch, 2n * SECOND)).toBe(true);
    expect(transition()).toBe('0\n');
    expect(catReads(k)).toBeGreaterThan(readsAtHold);
    const lines = dmesgLines(sys);
    expect(lines.slice(lines.indexOf("livepatch: 'livepatch_sample': starting patching transition"))).toEqual([
      "livepatch: 'livepatch_sample': starting patching transition",
      "livepatch: 'livepatch_sample': completing patching transition",
      "livepatch: 'livepatch_sample': patching complete",
    ]);
    for (const t of [...k.tasks(), ...k.idleTasks()]) expect(t.patchState, t.comm).toBe(KlpState.UNDEFINED);
    expect(procPatchState(sys, cat.pid)).toBe(KlpState.UNDEFINED);
    expect(nextCatRead(k)).toBe(true);
    expect(catBuffer(k)).toBe(SAMPLE_OUT);
    expect(cmdline()).toBe(SAMPLE_OUT);
  });
});
