// testSysfs.spec.ts - the kernel's test-sysfs.sh: rights and values of /sys/kernel/livepatch attributes, dmesg compared
import { describe, expect, it } from 'vitest';
import { createSystem } from '../../src/system.ts';
import { Selftest, SelftestError } from '../../src/selftests/functions.ts';
import { SYSFS, TEST_SYSFS } from '../../src/selftests/testSysfs.ts';
import { runScenario } from '../../src/selftests/testLivepatch.ts';

describe('[selftests]: test-sysfs.sh', () => {
  for (const s of TEST_SYSFS) {
    it(`"${s.name}" gives the kernel's dmesg`, () => {
      const sys = createSystem({ cpus: 2, seed: 11 });
      const t = new Selftest(sys);
      expect(runScenario(t, s)).toEqual([]);
      expect(t.resultLines().join('\n')).toBe(s.expected);
      sys.kernel.machine.close();
    });
  }

  it('check_sysfs_rights and check_sysfs_value die on a mismatch (negative control)', () => {
    const sys = createSystem({ cpus: 1 });
    const t = new Selftest(sys);
    t.startTest(SYSFS.name);
    t.loadLp('test_klp_livepatch');
    expect(sys.shell.run("stat --format '%A' /sys/kernel/livepatch/test_klp_livepatch/force").out).toBe('--w-------\n');
    expect(sys.shell.run('stat -c %a /sys/kernel/livepatch/test_klp_livepatch/enabled').out).toBe('644\n');
    expect(() => t.checkSysfsRights('test_klp_livepatch', 'enabled', '-r--r--r--'))
      .toThrow(new SelftestError('Unexpected access rights of /sys/kernel/livepatch/test_klp_livepatch/enabled: -r--r--r-- vs. -rw-r--r--'));
    expect(() => t.checkSysfsValue('test_klp_livepatch', 'transition', '1'))
      .toThrow(new SelftestError('Unexpected value in /sys/kernel/livepatch/test_klp_livepatch/transition: 1 vs. 0'));
    sys.kernel.machine.close();
  });
});
