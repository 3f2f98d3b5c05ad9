// testCallbacksBusy.spec.ts - the kernel's test-callbacks.sh scenarios 8 and 9 (test_klp_callbacks_busy), dmesg compared
import { describe, expect, it } from 'vitest';
import { createSystem } from '../../src/system.ts';
import { Selftest } from '../../src/selftests/functions.ts';
import { BUSY_TARGET, TEST_CALLBACKS_BUSY } from '../../src/selftests/testCallbacksBusy.ts';
import { runScenario } from '../../src/selftests/testLivepatch.ts';

const B = 'test_klp_callbacks_busy';
const P = 'test_klp_callbacks_demo';

describe('[selftests]: test-callbacks.sh with the busy module', () => {
  for (const s of TEST_CALLBACKS_BUSY) {
    it(`"${s.name}" gives the kernel's dmesg`, () => {
      const sys = createSystem({ cpus: 2, seed: 3 });
      const t = new Selftest(sys);
      expect(runScenario(t, s)).toEqual([]);
      expect(t.resultLines().join('\n')).toBe(s.expected);
      expect(sys.modules.list()).toEqual([]);
      sys.kernel.machine.close();
    });
  }

  it('block_transition=Y: the kworker sleeps in the old busymod_work_func and holds the transition until it is reversed', () => {
    const sys = createSystem({ cpus: 2, seed: 5 });
    const t = new Selftest(sys);
    t.startTest(BUSY_TARGET.name);
    t.loadMod(B, 'block_transition=Y');
    expect(sys.shell.run(`cat /sys/module/${B}/parameters/block_transition`).out).toBe('Y\n');
    t.loadLpNowait(P);
    sys.kernel.machine.runFor(3_000_000_000n);
    // Still in transition after 3 s of retries; the kworker is the task it waits for.
    expect(t.cat(`/sys/kernel/livepatch/${P}/transition`)).toBe('1\n');
    const kworker = sys.livepatch.transition.blocked.find((b) => b.comm === 'kworker/0:1');
    expect(kworker).toMatchObject({ reason: 'sleeping-on-function', detail: 'busymod_work_func' });
    t.disableLp(P);
    t.unloadLp(P);
    t.unloadMod(B);
    expect(t.resultLines().slice(-2)).toEqual([`${B}: busymod_work_func exit`, `${B}: ${B}_exit`]);
    sys.kernel.machine.close();
  });

  it('block_transition=N: init returns after the work ran to its end (init waited on the completion and flushed the work)', () => {
    const sys = createSystem({ cpus: 1, seed: 9 });
    const t = new Selftest(sys);
    t.startTest('busy module alone');
    t.loadMod(B);
    expect(sys.shell.run(`cat /sys/module/${B}/parameters/block_transition`).out).toBe('N\n');
    expect(t.resultLines()).toEqual([`% insmod test_modules/${B}.ko`, `${B}: ${B}_init`, `${B}: busymod_work_func enter`, `${B}: busymod_work_func exit`]);
    t.unloadMod(B);
    sys.kernel.machine.close();
  });
});
