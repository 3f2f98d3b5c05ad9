// testFtrace.spec.ts - the kernel's test-ftrace.sh: livepatch against the ftrace_enabled sysctl, dmesg compared
import { describe, expect, it } from 'vitest';
import { createSystem } from '../../src/system.ts';
import { Selftest } from '../../src/selftests/functions.ts';
import { TEST_FTRACE } from '../../src/selftests/testFtrace.ts';
import { runScenario } from '../../src/selftests/testLivepatch.ts';

describe('[selftests]: test-ftrace.sh', () => {
  for (const s of TEST_FTRACE) {
    it(`"${s.name}" gives the kernel's dmesg`, () => {
      const sys = createSystem({ cpus: 2, seed: 5 });
      const t = new Selftest(sys);
      expect(runScenario(t, s)).toEqual([]);
      expect(t.resultLines().join('\n')).toBe(s.expected);
      // The failed first insmod left nothing behind: no module, no patch, cmdline_proc_show's nop back.
      expect(sys.modules.list()).toEqual([]);
      const rec = sys.ftrace.recordOf('cmdline_proc_show')!;
      expect([...sys.kernel.machine.mem.read(rec.ip, 5)]).toEqual([0x0f, 0x1f, 0x44, 0x00, 0x00]);
      sys.kernel.machine.close();
    });
  }
});
