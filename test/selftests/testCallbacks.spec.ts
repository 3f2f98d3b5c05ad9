// testCallbacks.spec.ts - the kernel's test-callbacks.sh scenarios 1-7, 10, 11 (demo, demo2, mod), dmesg compared
import { describe, expect, it } from 'vitest';
import { createSystem } from '../../src/system.ts';
import { Selftest } from '../../src/selftests/functions.ts';
import { TEST_CALLBACKS } from '../../src/selftests/testCallbacks.ts';
import { runScenario } from '../../src/selftests/testLivepatch.ts';

describe('[selftests]: test-callbacks.sh', () => {
  for (const s of TEST_CALLBACKS) {
    it(`"${s.name}" gives the kernel's dmesg`, () => {
      const sys = createSystem({ cpus: 2, seed: 3 });
      const t = new Selftest(sys);
      expect(runScenario(t, s)).toEqual([]);
      expect(t.resultLines().join('\n')).toBe(s.expected);
      sys.kernel.machine.close();
    });
  }
});
