// fakeSignals.spec.ts - klp_send_signals: after SIGNALS_TIMEOUT (15) failed retries the tasks still pending get a fake signal (user) or a wake-up (kthread)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../src/system.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import type { TaskView } from '../../src/kernel/tasks.ts';
import { SIGNALS_TIMEOUT } from '../../src/livepatch/transition.ts';
import { TIF } from '../../src/abi/layout.ts';
import { bootSystem, dmesgLines, koPath, MS, procPatchState, reread, SECOND, setCmdlineDelay, sh, task } from '../helpers/klpHarness.ts';

const LP = '/sys/kernel/livepatch/livepatch_sample';
const SIGNALING = 'livepatch: signaling remaining tasks';

describe('[livepatch/transition]: fake signals to the tasks that hold a transition back', () => {
  let sys: System;
  let k: Kernel;
  let cat: TaskView;
  let t0: bigint;
  const transition = (): string => sh(sys, `cat ${LP}/transition`).out;
  const signaled = (): boolean => dmesgLines(sys).some((l) => l.endsWith(SIGNALING));

  beforeAll(() => {
    sys = bootSystem({ seed: 5 });
    k = sys.kernel;
    cat = task(k, 'cat_cmdline');
    // cat_cmdline sleeps (interruptibly) 120 s inside cmdline_proc_show: far longer than the 15 retries.
    setCmdlineDelay(k, 120_000);
    k.machine.runFor(800n * MS);
    expect(sh(sys, `insmod ${koPath('livepatch-sample.ko')}`).status).toBe(0);
    t0 = k.machine.nowNs;
  });
  afterAll(() => k.machine.close());

  it(`negative control: through ${SIGNALS_TIMEOUT} retries the sleeper holds the transition and nobody is signaled`, () => {
    const tr = sys.livepatch.transition;
    expect(k.runUntil(() => tr.attempts >= SIGNALS_TIMEOUT, 30n * SECOND)).toBe(true);
    expect(transition()).toBe('1\n');
    expect(tr.blocked.map((b) => `${b.comm}:${b.reason}`)).toContain('cat_cmdline:sleeping-on-function');
    expect(signaled()).toBe(false);
    expect(procPatchState(sys, cat.pid)).toBe(0);
  });

  it('the next failed retry signals: cat_cmdline wakes early, leaves the old function, switches on its way to user mode', () => {
    const tr = sys.livepatch.transition;
    expect(k.runUntil(() => !tr.patch, 5n * SECOND)).toBe(true);
    expect(signaled()).toBe(true);
    expect(tr.attempts).toBe(SIGNALS_TIMEOUT + 2);
    const lines = dmesgLines(sys);
    const sig = lines.findIndex((l) => l.endsWith(SIGNALING));
    const done = lines.findIndex((l) => l.endsWith("livepatch: 'livepatch_sample': patching complete"));
    expect(sig).toBeGreaterThan(-1);
    expect(done).toBeGreaterThan(sig);
    // Well before the 120 s sleep could have ended by itself.
    expect(k.machine.nowNs - t0).toBeLessThan(20n * SECOND);
    expect(transition()).toBe('0\n');
    expect(procPatchState(sys, cat.pid)).toBe(-1);
    expect(sh(sys, 'cat /proc/cmdline').out).toBe('this has been live patched\n');
  });
});

describe('[livepatch/transition]: klp_send_signals wakes a kthread instead of signaling it', () => {
  it('khungtaskd, never out of the patched watchdog loop: woken at the 16th attempt, TIF_SIGPENDING never set', () => {
    const sys = bootSystem({ seed: 9 });
    const k = sys.kernel;
    try {
      const hung = task(k, 'khungtaskd');
      const ko = new URL('../fixtures/validate/ko/kthread-loop-func.ko', import.meta.url).pathname;
      expect(sh(sys, `insmod ${ko}`).status).toBe(0);
      const tr = sys.livepatch.transition;
      const woken: string[] = [];
      const wake = k.requestWakeUp.bind(k);
      k.requestWakeUp = (t) => { woken.push(`${t.comm}@${tr.attempts}`); wake(t); };
      let sigpending = false;
      const sigBit = 1n << BigInt(TIF.SIGPENDING);
      k.machine.afterSlice.push(() => { if ((reread(k, hung).tifFlags & sigBit) !== 0n) sigpending = true; });
      expect(k.runUntil(() => tr.attempts >= SIGNALS_TIMEOUT + 1, 20n * SECOND)).toBe(true);
      expect(dmesgLines(sys).some((l) => l.endsWith(SIGNALING))).toBe(true);
      // Only the signal round wakes it (the retries before it do not), and it is never signaled.
      expect(woken).toEqual([`khungtaskd@${SIGNALS_TIMEOUT + 1}`]);
      expect(sigpending).toBe(false);
      expect(tr.patch).toBeDefined();
      expect(tr.blocked.map((b) => `${b.comm}:${b.reason}`)).toContain('khungtaskd:sleeping-on-function');
    } finally {
      k.machine.close();
    }
  });
});
