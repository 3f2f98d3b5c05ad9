// badInput.spec.ts - rejected modules: insmod's error text, the kernel's dmesg line, and a byte-for-byte unchanged machine
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../src/system.ts';
import { buildModule } from '../../src/module/build.ts';
import { modulePrelude } from '../../src/module/sources.ts';
import { loadImage } from '../../src/kernel/loadImage.ts';
import { R_X86_64_PC32 } from '../../src/elf/index.ts';
import {
  bootSystem, dmesgSince, fingerprint, fingerprintDiff, koBytes, koPath, meminfoStringResolvable, relaEntries, removeScratch,
  replaceString, sectionOffset, sh, symbolNameOffset, writeKo, type MachineFingerprint,
} from '../helpers/klpHarness.ts';

const SAMPLE = 'livepatch-sample.ko';

describe('[module/loader]: bad module input is refused and leaves the machine as it was', () => {
  let sys: System;
  /** The machine as the last refusal left it (= as it was before it); undefined after a real change. */
  let last: MachineFingerprint | undefined;
  beforeAll(() => {
    sys = bootSystem({ seed: 11 });
  });
  afterAll(() => {
    sys.kernel.machine.close();
    removeScratch();
  });

  /**
   * insmod `path`; expect exactly insmod's message, `dmesgWant` among the new dmesg lines and the
   * machine as before (module area, kernel text, lsmod, kallsyms, /sys/module, livepatch sysfs, ftrace records).
   */
  function refused(path: string, strerror: string, dmesgWant: (string | RegExp)[], runsInit = false): void {
    const before: MachineFingerprint = last ?? fingerprint(sys);
    const nowNs = sys.kernel.machine.nowNs;
    const from = sys.kernel.dmesg().length;
    const r = sh(sys, `insmod ${path}`);
    expect(r.status).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe(`insmod: ERROR: could not insert module ${path}: ${strerror}\n`);
    const lines = dmesgSince(sys, from);
    for (const w of dmesgWant) {
      if (typeof w === 'string') expect(lines).toContain(w);
      else expect(lines.some((l) => w.test(l)), `${w} in ${JSON.stringify(lines)}`).toBe(true);
    }
    const after = fingerprint(sys);
    expect(fingerprintDiff(before, after)).toEqual([]);
    last = after;
    expect(sys.modules.modules.size).toBe(before.lsmod.split('\n').length - 2);
    // A file refused before its init never ran guest code, so no guest time passed either.
    if (!runsInit) expect(sys.kernel.machine.nowNs).toBe(nowNs);
  }

  // elf_validity_check()'s pr_err lines (kernel/module/main.c), as dmesg shows them
  it('truncated ELF: header cut short, and section headers past the end', () => {
    const ko = koBytes(SAMPLE);
    refused(writeKo('trunc-header.ko', ko.subarray(0, 40)), 'Invalid module format', ['Invalid ELF header len 40']);
    refused(writeKo('trunc-shdrs.ko', ko.subarray(0, ko.length - 100)), 'Invalid module format', ['Invalid ELF section header overflow']);
  });

  it('not an ELF relocatable: bad magic, ET_EXEC', () => {
    const ko = Buffer.from(koBytes(SAMPLE));
    ko[1] = 0x45 ^ 0x20;
    refused(writeKo('bad-magic.ko', ko), 'Invalid module format', ['Invalid ELF header magic: != \x7fELF']);
    const exec = Buffer.from(koBytes(SAMPLE));
    exec.writeUInt16LE(2, 16);
    refused(writeKo('exec.ko', exec), 'Invalid module format', ['Invalid ELF header type: 2 != 1']);
  });

  it('inconsistent ELF: a section whose contents lie past the end of the file, a section name index out of range', () => {
    const ko = Buffer.from(koBytes(SAMPLE));
    const shoff = Number(ko.readBigUInt64LE(40));
    const text = sectionOffset(ko, '.text.livepatch_cmdline_proc_show');
    ko.writeBigUInt64LE(BigInt(ko.length), shoff + text.index * 64 + 24);
    refused(writeKo('bad-offset.ko', ko), 'Invalid module format', [`Invalid ELF section in module (section ${text.index} type 1)`]);
    const shstr = Buffer.from(koBytes(SAMPLE));
    const shnum = shstr.readUInt16LE(60);
    shstr.writeUInt16LE(shnum, 62);
    refused(writeKo('bad-shstrndx.ko', shstr), 'Invalid module format', [`Invalid ELF section name index: ${shnum} || e_shstrndx (${shnum}) >= e_shnum (${shnum})`]);
  });

  it('wrong e_machine (EM_386)', () => {
    const ko = Buffer.from(koBytes(SAMPLE));
    ko.writeUInt16LE(3, 18);
    refused(writeKo('i386.ko', ko), 'Invalid module format', ['Invalid architecture in ELF header: 3']);
  });

  it('an unknown undefined symbol, and a vmlinux symbol that is not exported: Unknown symbol (err -2), -ENOENT', () => {
    const ko = koBytes(SAMPLE);
    const unknown = replaceString(ko, 'seq_printf', 'seq_prinxf', symbolNameOffset(ko, 'seq_printf'));
    refused(writeKo('unknown-sym.ko', unknown), 'Unknown symbol in module, or unknown parameter (see dmesg)', ['livepatch_sample: Unknown symbol seq_prinxf (err -2)']);
    const image = loadImage();
    expect(image.exported.has('saved_command_line')).toBe(false);
    const src = [
      'MODULE_LICENSE "GPL"', '.section .text', 'SYM_FUNC_START_LOCAL peek_init', '\tpush rbp', '\tmov rbp, rsp',
      '\tlea rax, [rip + saved_command_line]', '\txor eax, eax', '\tpop rbp', '\tret', 'SYM_FUNC_END peek_init', 'MODULE_INIT peek_init', '',
    ].join('\n');
    const peek = buildModule('peek_unexported.S', src, new Set(image.symbols.map((s) => s.name)), modulePrelude());
    refused(writeKo('peek_unexported.ko', peek), 'Unknown symbol in module, or unknown parameter (see dmesg)', ['peek_unexported: Unknown symbol saved_command_line (err -2)']);
  });

  it('a PC32 relocation that overflows', () => {
    const ko = Buffer.from(koBytes(SAMPLE));
    const r = relaEntries(ko, '.rela.text.livepatch_cmdline_proc_show').find((x) => x.type === R_X86_64_PC32);
    expect(r, 'a PC32 relocation in the sample').toBeDefined();
    ko.writeBigInt64LE(r!.addend + 0x1_0000_0000n, r!.fileOff + 16);
    refused(writeKo('pc32-overflow.ko', ko), 'Invalid module format', [/^overflow in relocation type 2 val [0-9a-f]+$/, "`livepatch_sample' likely not compiled with -mcmodel=kernel"]);
  });

  it('a relocation whose target bytes are not zero', () => {
    const ko = Buffer.from(koBytes(SAMPLE));
    const r = relaEntries(ko, '.rela.text.livepatch_cmdline_proc_show')[0]!;
    const text = sectionOffset(ko, '.text.livepatch_cmdline_proc_show');
    ko[text.offset + Number(r.offset)] = 0x5a;
    refused(writeKo('nonzero-target.ko', ko), 'Invalid module format', [new RegExp(`^x86/modules: Invalid relocation target, existing value is nonzero for type ${r.type}, loc 0x[0-9a-f]+, val 0x[0-9a-f]+$`)]);
  });

  it('a duplicate module name (File exists), whatever the file is called', () => {
    const target = koPath('test_klp_mod_target.ko');
    const empty = fingerprint(sys);
    expect(sh(sys, `insmod ${target}`).status).toBe(0);
    last = undefined;
    // Negative control: a load that succeeds shows in every part of the fingerprint but kernel text.
    expect(fingerprintDiff(empty, fingerprint(sys))).toEqual(['moduleArea', 'lsmod', 'kallsyms', 'sysModule', 'textRanges', 'ftrace']);
    refused(target, 'File exists', []);
    refused(writeKo('renamed-target.ko', koBytes('test_klp_mod_target.ko')), 'File exists', []);
    expect(sh(sys, 'rmmod test_klp_mod_target').status).toBe(0);
    last = undefined;
  });

  it('a livepatch module without livepatch=Y: klp_enable_patch refuses it, the module is freed', () => {
    const plain = replaceString(koBytes(SAMPLE), 'livepatch=Y', 'livepatch=N');
    refused(writeKo('not-a-livepatch.ko', plain), 'Invalid parameters', ['livepatch: module livepatch_sample is not marked as a livepatch module'], true);
    expect(sh(sys, 'ls /sys/kernel/livepatch').out).toBe('');
  });

  it('a .klp.sym symbol (SHN_LIVEPATCH) in a module without livepatch=Y', () => {
    const plain = replaceString(meminfoStringResolvable(), 'livepatch=Y', 'livepatch=N');
    refused(writeKo('klp-sym-plain.ko', plain), 'Invalid module format', ['livepatch_meminfo_string: module is not marked as a livepatch module']);
  });

  it('an unresolvable .klp.sym: unknown name, and a sympos past the last match (-EINVAL)', () => {
    const ko = meminfoStringResolvable();
    const at = symbolNameOffset(ko, '.klp.sym.vmlinux.show_val_kb,1');
    const noName = replaceString(ko, '.klp.sym.vmlinux.show_val_kb,1', '.klp.sym.vmlinux.show_val_kX,1', at);
    refused(writeKo('klp-unknown.ko', noName), 'Invalid parameters', ["livepatch: symbol 'show_val_kX' not found in symbol table"]);
    expect(sys.kernel.kallsyms.lookupAll('show_val_kb', 'vmlinux')).toHaveLength(2);
    const noPos = replaceString(ko, '.klp.sym.vmlinux.show_val_kb,1', '.klp.sym.vmlinux.show_val_kb,3', at);
    refused(writeKo('klp-sympos.ko', noPos), 'Invalid parameters', ["livepatch: symbol position 3 for symbol 'show_val_kb' in object 'vmlinux' not found"]);
    const ambiguous = replaceString(ko, '.klp.sym.vmlinux.show_val_kb,1', '.klp.sym.vmlinux.show_val_kb,0', at);
    refused(writeKo('klp-ambiguous.ko', ambiguous), 'Invalid parameters', ["livepatch: unresolvable ambiguity for symbol 'show_val_kb' in object 'vmlinux'"]);
  });

  it('a replacement that is not a sized symbol (new_func = livepatch_cmdline_proc_show+5): kallsyms size lookup failed, -ENOENT', () => {
    const ko = readFileSync(new URL('../fixtures/validate/ko/new-func-mid-symbol.ko', import.meta.url));
    refused(writeKo('new-func-mid-symbol.ko', ko), 'Unknown symbol in module, or unknown parameter (see dmesg)',
      ["livepatch: kallsyms size lookup failed for 'cmdline_proc_show' replacement"], true);
    expect(sh(sys, 'ls /sys/kernel/livepatch').out).toBe('');
  });

  it('after every refusal a good module still loads at the first module address (nothing leaked)', () => {
    const from = sys.kernel.dmesg().length;
    expect(sh(sys, `insmod ${koPath('test_klp_mod_target.ko')}`)).toEqual({ out: '', err: '', status: 0 });
    expect(sys.modules.modules.get('test_klp_mod_target')!.base).toBe(0xffff_ffff_a000_1000n);
    expect(dmesgSince(sys, from)).toContain('test_klp_mod_target: test_klp_mod_target_init');
    expect(sh(sys, 'cat /proc/test_klp_mod_target').out).toBe('test_klp_mod_target: original output\n');
  });
});
