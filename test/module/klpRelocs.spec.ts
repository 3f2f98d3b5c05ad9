// klpRelocs.spec.ts - .klp.rela.vmlinux/.klp.sym in livepatch-meminfo-string (readelf, sympos 1 applied at load) and module parameters (replace=1)
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../src/system.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import { R_X86_64_PLT32 } from '../../src/elf/index.ts';
import { bootSystem, dmesgSince, koPath, meminfoStringResolvable, MS, relaEntries, removeScratch, sh, writeKo } from '../helpers/klpHarness.ts';

const hasReadelf = spawnSync('readelf', ['--version']).status === 0;
const ok = { out: '', err: '', status: 0 };

describe('[module/loader]: livepatch relocations and module parameters', () => {
  let sys: System;
  let k: Kernel;
  let original: string;
  const settle = (): boolean => k.runUntil(() => !sys.livepatch.transition.patch, 1100n * MS);
  const meminfo = (): string => sh(sys, 'cat /proc/meminfo').out;

  beforeAll(() => {
    sys = bootSystem({ seed: 9 });
    k = sys.kernel;
    original = meminfo();
  });
  afterAll(() => {
    k.machine.close();
    removeScratch();
  });

  it.skipIf(!hasReadelf)('readelf -S -r -s shows .klp.rela.vmlinux..text.livepatch_meminfo_proc_show and .klp.sym.vmlinux.show_val_kb,1 as OS [0xff20]', () => {
    const r = spawnSync('readelf', ['-S', '-r', '-s', '-W', koPath('livepatch-meminfo-string.ko')], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/\] \.klp\.rela\.vmlinux\.\.text\.livepatch_meminfo_proc_show\s+RELA\s+0+ [0-9a-f]+ [0-9a-f]+ 18 AIo /);
    expect(r.stdout).toContain("Relocation section '.klp.rela.vmlinux..text.livepatch_meminfo_proc_show'");
    expect(r.stdout).toMatch(/R_X86_64_PLT32\s+0+ \.klp\.sym\.vmlinux\.show_val_kb,1 - 4/);
    expect(r.stdout).toMatch(/NOTYPE\s+GLOBAL\s+DEFAULT\s+OS \[0xff20\] \.klp\.sym\.vmlinux\.show_val_kb,1$/m);
  });

  // Regression test: the shipped module once referred to the unexported boot_params as an ordinary
  // undefined symbol (insmod: "Unknown symbol boot_params (err -2)"); it now uses .klp.sym.vmlinux.boot_params,0.
  it('the shipped livepatch-meminfo-string.ko loads and /proc/meminfo shows VMALLOCCHUNK', () => {
    const from = k.dmesg().length;
    const r = sh(sys, `insmod ${koPath('livepatch-meminfo-string.ko')}`);
    expect(dmesgSince(sys, from)).not.toContain('livepatch_meminfo_string: Unknown symbol boot_params (err -2)');
    expect(r).toEqual(ok);
    expect(settle()).toBe(true);
    expect(meminfo()).toContain('VMALLOCCHUNK:      16384 kB\n');
    // Leave the machine as the next test expects it: patch disabled and module gone.
    expect(sh(sys, 'echo 0 > /sys/kernel/livepatch/livepatch_meminfo_string/enabled')).toEqual(ok);
    expect(settle()).toBe(true);
    expect(sh(sys, 'rmmod livepatch_meminfo_string')).toEqual(ok);
    expect(meminfo()).toBe(original);
  });

  it('the same source with boot_params as a .klp.sym too: the loader applies show_val_kb,1 (the first of two) before init', () => {
    expect(k.kallsyms.lookupAll('show_val_kb', 'vmlinux')).toHaveLength(2);
    const first = k.kallsyms.lookupSympos('vmlinux', 'show_val_kb', 1).sym!;
    const second = k.kallsyms.lookupSympos('vmlinux', 'show_val_kb', 2).sym!;
    expect(first.addr).not.toBe(second.addr);
    const ko = meminfoStringResolvable();
    const from = k.dmesg().length;
    expect(sh(sys, `insmod ${writeKo('livepatch-meminfo-string.ko', ko)}`)).toEqual(ok);
    expect(settle()).toBe(true);
    expect(dmesgSince(sys, from)).toContain("livepatch: 'livepatch_meminfo_string': patching complete");
    const fn = k.kallsyms.lookupAll('livepatch_meminfo_proc_show', 'livepatch_meminfo_string')[0]!;
    const calls = relaEntries(ko, '.klp.rela.vmlinux..text.livepatch_meminfo_proc_show').filter((r) => r.sym === '.klp.sym.vmlinux.show_val_kb,1');
    expect(calls).toHaveLength(2);
    for (const c of calls) {
      expect(c.type).toBe(R_X86_64_PLT32);
      const loc = fn.addr + c.offset;
      expect(k.machine.mem.read(loc - 1n, 1)[0]).toBe(0xe8); // call rel32
      expect(loc + 4n + BigInt(k.machine.mem.readI32(loc))).toBe(first.addr);
    }
    const lines = meminfo().split('\n');
    expect(lines).toEqual([original.split('\n')[0], 'VMALLOCCHUNK:      16384 kB', '']);
  });

  it('disabled and removed, meminfo is back; loaded again, the relocations apply again', () => {
    expect(sh(sys, 'echo 0 > /sys/kernel/livepatch/livepatch_meminfo_string/enabled')).toEqual(ok);
    expect(settle()).toBe(true);
    expect(sh(sys, 'rmmod livepatch_meminfo_string')).toEqual(ok);
    expect(meminfo()).toBe(original);
    expect(sh(sys, `insmod ${writeKo('livepatch-meminfo-string.ko', meminfoStringResolvable())}`)).toEqual(ok);
    expect(settle()).toBe(true);
    expect(meminfo()).toContain('VMALLOCCHUNK:      16384 kB\n');
  });

  it('test_klp_atomic_replace replace=1: the parameter reaches the patch (sysfs replace 1) and it replaces the older patch', () => {
    const from = k.dmesg().length;
    expect(sh(sys, `insmod ${koPath('test_klp_atomic_replace.ko')} replace=1`)).toEqual(ok);
    expect(sh(sys, 'cat /sys/module/test_klp_atomic_replace/parameters/replace').out).toBe('1\n');
    expect(sh(sys, 'ls /sys/module/test_klp_atomic_replace/parameters').out).toBe('replace\n');
    expect(sh(sys, 'cat /sys/kernel/livepatch/test_klp_atomic_replace/replace').out).toBe('1\n');
    expect(settle()).toBe(true);
    expect(dmesgSince(sys, from)).toContain("livepatch: 'test_klp_atomic_replace': patching complete");
    expect(sh(sys, 'ls /sys/kernel/livepatch').out).toBe('test_klp_atomic_replace\n');
    expect(meminfo()).toBe('test_klp_atomic_replace: this has been live patched\n');
    expect(sh(sys, 'rmmod livepatch_meminfo_string')).toEqual(ok);
    expect(sh(sys, 'echo 0 > /sys/kernel/livepatch/test_klp_atomic_replace/enabled')).toEqual(ok);
    expect(settle()).toBe(true);
    expect(sh(sys, 'rmmod test_klp_atomic_replace')).toEqual(ok);
    expect(meminfo()).toBe(original);
  });

  it('without the parameter replace reads 0; an unknown one is ignored with a warning; a bad value is refused', () => {
    let from = k.dmesg().length;
    expect(sh(sys, `insmod ${koPath('test_klp_atomic_replace.ko')} foo=1`)).toEqual(ok);
    expect(dmesgSince(sys, from)).toContain("test_klp_atomic_replace: unknown parameter 'foo' ignored");
    expect(sh(sys, 'cat /sys/module/test_klp_atomic_replace/parameters/replace').out).toBe('0\n');
    expect(sh(sys, 'cat /sys/kernel/livepatch/test_klp_atomic_replace/replace').out).toBe('0\n');
    expect(settle()).toBe(true);
    expect(sh(sys, 'echo 0 > /sys/kernel/livepatch/test_klp_atomic_replace/enabled')).toEqual(ok);
    expect(settle()).toBe(true);
    expect(sh(sys, 'rmmod test_klp_atomic_replace')).toEqual(ok);
    from = k.dmesg().length;
    const path = koPath('test_klp_atomic_replace.ko');
    expect(sh(sys, `insmod ${path} replace=abc`)).toEqual({ out: '', err: `insmod: ERROR: could not insert module ${path}: Invalid parameters\n`, status: 1 });
    expect(dmesgSince(sys, from)).toContain("test_klp_atomic_replace: 'abc' invalid for parameter 'replace'");
    expect(sh(sys, 'lsmod').out).toBe('Module                  Size  Used by\n');
    expect(sh(sys, 'ls /sys/kernel/livepatch').out).toBe('');
  });
});
