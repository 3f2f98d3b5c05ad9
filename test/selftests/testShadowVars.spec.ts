// testShadowVars.spec.ts - the kernel's test-shadow-vars.sh: the guest shadow variable API through test_klp_shadow_vars, dmesg compared
import { describe, expect, it } from 'vitest';
import { createSystem } from '../../src/system.ts';
import { Selftest } from '../../src/selftests/functions.ts';
import { TEST_SHADOW_VARS } from '../../src/selftests/testShadowVars.ts';
import { runScenario } from '../../src/selftests/testLivepatch.ts';

describe('[selftests]: test-shadow-vars.sh', () => {
  for (const s of TEST_SHADOW_VARS) {
    it(`"${s.name}" gives the kernel's dmesg`, () => {
      const sys = createSystem({ cpus: 2, seed: 9 });
      const t = new Selftest(sys);
      expect(runScenario(t, s)).toEqual([]);
      expect(t.resultLines().join('\n')).toBe(s.expected);
      // Every shadow variable was freed: klp_shadow_list in guest memory is empty again.
      const head = sys.kernel.sym('klp_shadow_list');
      expect(sys.kernel.machine.mem.readU64(head)).toBe(head);
      sys.kernel.machine.close();
    });
  }
});
