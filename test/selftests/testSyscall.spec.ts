// testSyscall.spec.ts - the kernel's test-syscall.sh: getpid patched under min(nproc,128) hammering processes, dmesg compared
import { describe, expect, it } from 'vitest';
import { createSystem } from '../../src/system.ts';
import { Selftest } from '../../src/selftests/functions.ts';
import { SYSCALL, TEST_SYSCALL } from '../../src/selftests/testSyscall.ts';
import { runScenario } from '../../src/selftests/testLivepatch.ts';

const SC = 'test_klp_syscall';

describe('[selftests]: test-syscall.sh', () => {
  for (const s of TEST_SYSCALL) {
    it(`"${s.name}" gives the kernel's dmesg`, () => {
      const sys = createSystem({ cpus: 2, seed: 13 });
      const t = new Selftest(sys);
      expect(runScenario(t, s)).toEqual([]);
      const pids = sys.shell.jobs.started;
      expect(pids).toHaveLength(2);
      expect(t.resultLines().join('\n')).toBe(s.expected);
      expect(t.resultLines()[0]).toBe(`% insmod test_modules/${SC}.ko klp_pids=${pids.join(',')}`);
      // Killed, patch gone, kobject gone.
      expect(sys.kernel.tasks().filter((x) => pids.includes(x.pid))).toEqual([]);
      expect(sys.modules.list()).toEqual([]);
      expect(sys.kernel.vfs.exists(`/sys/kernel/${SC}`)).toBe(false);
      sys.kernel.machine.close();
    });
  }

  it('each listed process clears itself at its first patched getpid, before the transition completes', () => {
    const sys = createSystem({ cpus: 2, seed: 17 });
    const t = new Selftest(sys);
    t.startTest(SYSCALL.name);
    const pids = [t.startBackground('./test_klp-call_getpid'), t.startBackground('./test_klp-call_getpid')];
    const comms = sys.kernel.tasks().filter((x) => pids.includes(x.pid)).map((x) => x.comm);
    expect(comms).toEqual(['test_klp-call_g', 'test_klp-call_g']);
    sys.kernel.machine.runFor(20_000_000n);
    t.loadLpNowait(SC, `klp_pids=${pids.join(',')}`);
    // Right after init: both pending, the transition started; klp_pids has perm 0 (no sysfs file).
    expect(t.cat(`/sys/kernel/${SC}/npids`)).toBe('2\n');
    expect(sys.shell.run(`stat -c %A /sys/kernel/${SC}/npids`).out).toBe('-r--r--r--\n');
    expect(sys.kernel.vfs.exists(`/sys/module/${SC}/parameters/klp_pids`)).toBe(false);
    expect(sys.shell.run(`echo 5 > /sys/kernel/${SC}/npids`).status).toBe(1);
    // The processes switch themselves on their way back to user mode, long before the 1 s retry.
    sys.kernel.machine.runFor(30_000_000n);
    expect(t.cat(`/sys/kernel/livepatch/${SC}/transition`)).toBe('1\n');
    expect(t.cat(`/sys/kernel/${SC}/npids`)).toBe('0\n');
    for (const pid of pids) expect(t.cat(`/proc/${pid}/patch_state`)).toBe('1\n');
    for (const pid of pids) expect(sys.shell.run(`kill -9 ${pid}`).status).toBe(0);
    t.disableLp(SC);
    t.unloadLp(SC);
    expect(sys.kernel.tasks().filter((x) => pids.includes(x.pid))).toEqual([]);
    sys.kernel.machine.close();
  });

  it('klp_pids takes at most NR_CPUS values (module_param_array), the load fails otherwise', () => {
    const sys = createSystem({ cpus: 1, seed: 3 });
    const t = new Selftest(sys);
    t.startTest('too many pids');
    const from = sys.kernel.dmesg().length;
    t.loadFailingMod(SC, 'klp_pids=1,2,3,4,5,6,7,8,9');
    const dmesg = sys.kernel.dmesg().slice(from).map((l) => l.replace(/^\[[ 0-9.]*\] /, ''));
    expect(dmesg).toContain('klp_pids: can only take 8 arguments');
    expect(dmesg).toContain(`${SC}: '1,2,3,4,5,6,7,8,9' invalid for parameter 'klp_pids'`);
    expect(sys.modules.list()).toEqual([]);
    expect(sys.kernel.vfs.exists(`/sys/kernel/${SC}`)).toBe(false);
    sys.kernel.machine.close();
  });
});
