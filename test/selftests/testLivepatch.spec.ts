// testLivepatch.spec.ts - the kernel's test-livepatch.sh scenarios replayed, dmesg compared after check_result's filter
import { describe, expect, it } from 'vitest';
import { createSystem } from '../../src/system.ts';
import { Selftest } from '../../src/selftests/functions.ts';
import { BASIC, MULTIPLE, TEST_LIVEPATCH, runScenario } from '../../src/selftests/testLivepatch.ts';

describe('[selftests]: test-livepatch.sh', () => {
  expect(TEST_LIVEPATCH).toContain(MULTIPLE);
  for (const s of TEST_LIVEPATCH) {
    it(`"${s.name}" gives the kernel's dmesg`, () => {
      const sys = createSystem({ cpus: 2, seed: 7 });
      const t = new Selftest(sys);
      const diff = runScenario(t, s);
      expect(diff).toEqual([]);
      expect(t.resultLines().join('\n')).toBe(s.expected);
      sys.kernel.machine.close();
    });
  }

  it('check_result catches a wrong expectation (negative control)', () => {
    const sys = createSystem({ cpus: 1 });
    const t = new Selftest(sys);
    const diff = runScenario(t, { ...BASIC, expected: BASIC.expected.replace('patching complete', 'patching done') });
    expect(diff).toContain("-livepatch: 'test_klp_livepatch': patching done");
    sys.kernel.machine.close();
  });
});
