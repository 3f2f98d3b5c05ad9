// sysfsRules.spec.ts - /sys/kernel/livepatch: layout via ls, the kernel's modes, and the write rules of enabled/force as the shell reports them
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../src/system.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import { bootSystem, forgeSleeperStack, koPath, MS, sh } from '../helpers/klpHarness.ts';

const KLP = '/sys/kernel/livepatch';
const LP = `${KLP}/livepatch_sample`;
const AR = `${KLP}/test_klp_atomic_replace`;
const ok = { out: '', err: '', status: 0 };
const writeError = (what: string): { out: string; err: string; status: number } => ({ out: '', err: `sh: echo: write error: ${what}\n`, status: 1 });

describe('[livepatch/sysfs]: attributes, permissions and write rules', () => {
  let sys: System;
  let k: Kernel;
  let restore: () => void = () => {};
  const settle = (): boolean => k.runUntil(() => !sys.livepatch.transition.patch, 1100n * MS);

  beforeAll(() => {
    sys = bootSystem({ seed: 13, nrSleepers: 1 });
    k = sys.kernel;
    expect(sh(sys, `insmod ${koPath('livepatch-sample.ko')}`)).toEqual(ok);
    expect(settle()).toBe(true);
  });
  afterAll(() => k.machine.close());

  it('ls shows the patch, object and <function,sympos> directories', () => {
    expect(sh(sys, `ls ${KLP}`)).toEqual({ out: 'livepatch_sample\n', err: '', status: 0 });
    expect(sh(sys, `ls ${LP}`).out).toBe('enabled\nforce\nreplace\nstack_order\ntransition\nvmlinux\n');
    expect(sh(sys, `ls ${LP}/vmlinux`).out).toBe('cmdline_proc_show,1\npatched\n');
    expect(sh(sys, `ls ${LP}/vmlinux/cmdline_proc_show,1`)).toEqual(ok);
    expect(sh(sys, `ls ${LP}/vmlinux/cmdline_proc_show,2`)).toEqual({
      out: '', err: `ls: cannot access '${LP}/vmlinux/cmdline_proc_show,2': No such file or directory\n`, status: 2,
    });
  });

  it('modes are the kernel\'s: enabled rw-r--r--, force -w-------, the rest read-only, directories drwxr-xr-x', () => {
    const mode = (p: string): string | undefined => k.vfs.modeString(p);
    expect(mode(`${LP}/enabled`)).toBe('-rw-r--r--');
    expect(mode(`${LP}/transition`)).toBe('-r--r--r--');
    expect(mode(`${LP}/force`)).toBe('--w-------');
    expect(mode(`${LP}/replace`)).toBe('-r--r--r--');
    expect(mode(`${LP}/stack_order`)).toBe('-r--r--r--');
    expect(mode(`${LP}/vmlinux/patched`)).toBe('-r--r--r--');
    expect(mode(LP)).toBe('drwxr-xr-x');
    expect(mode(`${LP}/vmlinux`)).toBe('drwxr-xr-x');
    expect(mode(`${LP}/vmlinux/cmdline_proc_show,1`)).toBe('drwxr-xr-x');
  });

  it('reads: enabled 1, transition 0, replace 0, stack_order 1, patched 1; force is write-only', () => {
    expect(sh(sys, `cat ${LP}/enabled ${LP}/transition ${LP}/replace ${LP}/stack_order ${LP}/vmlinux/patched`).out).toBe('1\n0\n0\n1\n1\n');
    expect(sh(sys, `cat ${LP}/force`)).toEqual({ out: '', err: `cat: ${LP}/force: Permission denied\n`, status: 1 });
    expect(sh(sys, `cat ${LP}/vmlinux`)).toEqual({ out: '', err: `cat: ${LP}/vmlinux: Is a directory\n`, status: 1 });
  });

  it('read-only attributes refuse writes; enabled refuses 1 when enabled and non-booleans; force refuses 1 without a transition', () => {
    for (const f of ['transition', 'replace', 'stack_order', 'vmlinux/patched']) {
      expect(sh(sys, `echo 1 > ${LP}/${f}`)).toEqual({ out: '', err: `sh: ${LP}/${f}: Permission denied\n`, status: 1 });
    }
    expect(sh(sys, `echo 1 > ${LP}/enabled`)).toEqual(writeError('Invalid argument'));
    expect(sh(sys, `echo maybe > ${LP}/enabled`)).toEqual(writeError('Invalid argument'));
    expect(sh(sys, `echo 1 > ${LP}/force`)).toEqual(writeError('Invalid argument'));
    expect(sh(sys, `echo maybe > ${LP}/force`)).toEqual(writeError('Invalid argument'));
    expect(sh(sys, `echo 0 > ${LP}/force`)).toEqual(ok); // kstrtobool false: a no-op that succeeds
    expect(sh(sys, `cat ${LP}/enabled ${LP}/transition`).out).toBe('1\n0\n');
    expect(sh(sys, 'cat /proc/cmdline').out).toBe('this has been live patched\n');
  });

  it('a second patch stacks (stack_order 2); while one is in transition the other cannot be disabled and no third can be enabled (-EBUSY)', () => {
    expect(sh(sys, `insmod ${koPath('test_klp_atomic_replace.ko')}`)).toEqual(ok);
    expect(settle()).toBe(true);
    expect(sh(sys, `cat ${LP}/stack_order ${AR}/stack_order ${AR}/replace`).out).toBe('1\n2\n0\n');
    // Hold the unpatching transition of livepatch_sample: ksleeper's stack is made unreliable.
    restore = forgeSleeperStack(k);
    expect(sh(sys, `echo 0 > ${LP}/enabled`)).toEqual(ok);
    k.machine.runFor(1100n * MS);
    expect(sys.livepatch.transition.blocked.map((b) => `${b.comm}:${b.reason}`)).toEqual(['ksleeper:unreliable-stack']);
    expect(sh(sys, `cat ${LP}/transition`).out).toBe('1\n');
    expect(sh(sys, `echo 0 > ${AR}/enabled`)).toEqual(writeError('Device or resource busy'));
    const path = koPath('test_klp_livepatch.ko');
    expect(sh(sys, `insmod ${path}`)).toEqual({ out: '', err: `insmod: ERROR: could not insert module ${path}: Device or resource busy\n`, status: 1 });
    expect(sh(sys, `ls ${KLP}`).out).toBe('livepatch_sample\ntest_klp_atomic_replace\n');
    expect(sh(sys, 'lsmod').out).not.toContain('test_klp_livepatch');
    expect(sh(sys, `echo 1 > ${AR}/force`)).toEqual(writeError('Invalid argument')); // force: only the transition patch
  });

  it('after the disable completes, the directory is gone and stack_order shifts down', () => {
    restore();
    expect(k.runUntil(() => !sys.livepatch.transition.patch, 3000n * MS)).toBe(true);
    expect(sh(sys, `ls ${KLP}`).out).toBe('test_klp_atomic_replace\n');
    expect(sh(sys, `cat ${AR}/stack_order`).out).toBe('1\n');
    expect(sh(sys, `cat ${LP}/enabled`)).toEqual({ out: '', err: `cat: ${LP}/enabled: No such file or directory\n`, status: 1 });
    expect(sh(sys, `echo 0 > ${LP}/enabled`)).toEqual({ out: '', err: `sh: ${LP}/enabled: No such file or directory\n`, status: 1 });
    expect(sh(sys, 'rmmod livepatch_sample')).toEqual(ok);
  });
});
