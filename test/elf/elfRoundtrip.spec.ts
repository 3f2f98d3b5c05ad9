// elfRoundtrip.spec.ts - writeElf/relaSection output read back by readElf/readRelas and checked by binutils readelf

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ET_EXEC, ET_REL, EM_X86_64, R_X86_64_64, R_X86_64_PC32, R_X86_64_PLT32, RELA_SIZE, SHF_ALLOC, SHF_EXECINSTR,
  SHF_INFO_LINK, SHF_RELA_LIVEPATCH, SHF_WRITE, SHN_ABS, SHN_LIVEPATCH, SHN_UNDEF, SHT_NOBITS, SHT_PROGBITS, SHT_RELA,
  STB_GLOBAL, STB_LOCAL, STT_FILE, STT_FUNC, STT_NOTYPE, STT_OBJECT, StrTab, readElf, readRelas, relaSection, writeElf,
  type OutRela, type OutSection, type OutSymbol,
} from '../../src/elf/index.ts';

/** binutils readelf on `elf`: exit status and combined output. */
function readelf(elf: Uint8Array, args: string[]): { status: number | null; out: string; err: string } {
  const dir = mkdtempSync(join(tmpdir(), 'klpemu-elf-'));
  try {
    writeFileSync(join(dir, 'x.o'), elf);
    const r = spawnSync('readelf', [...args, join(dir, 'x.o')], { encoding: 'utf8' });
    return { status: r.status, out: r.stdout, err: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const text = Uint8Array.of(0x0f, 0x1f, 0x44, 0x00, 0x00, 0x55, 0x48, 0x89, 0xe5, 0xe8, 0, 0, 0, 0, 0x5d, 0xc3);
const SECTIONS: OutSection[] = [
  { name: '.text', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_EXECINSTR, data: text, align: 16 },
  { name: '.data', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_WRITE, data: new Uint8Array(16), align: 8 },
  { name: '.bss', type: SHT_NOBITS, flags: SHF_ALLOC | SHF_WRITE, size: 64, align: 8 },
];
const SYMBOLS: OutSymbol[] = [
  { name: 'livepatch.c', value: 0n, size: 0, type: STT_FILE, bind: STB_LOCAL, shndx: SHN_ABS },
  { name: 'local_obj', value: 8n, size: 8, type: STT_OBJECT, bind: STB_LOCAL, shndx: 2 },
  { name: 'livepatch_fn', value: 0n, size: text.length, type: STT_FUNC, bind: STB_GLOBAL, shndx: 1 },
  { name: 'printk', value: 0n, size: 0, type: STT_NOTYPE, bind: STB_GLOBAL, shndx: SHN_UNDEF },
  { name: '.klp.sym.vmlinux.show_val_kb,2', value: 0n, size: 0, type: STT_FUNC, bind: STB_GLOBAL, shndx: SHN_LIVEPATCH },
];
// symtab index = sections + rela sections + 1 (writeElf appends .symtab, .strtab after them)
const SYMTAB = SECTIONS.length + 2 + 1;
const RELAS: OutRela[] = [{ offset: 10n, type: R_X86_64_PLT32, sym: 4, addend: -4n }];
const KLP: OutRela[] = [{ offset: 10n, type: R_X86_64_PC32, sym: 5, addend: -4n }, { offset: 0n, type: R_X86_64_64, sym: 3, addend: 8n }];

function module(): Buffer {
  return writeElf({
    type: ET_REL,
    sections: [...SECTIONS, relaSection('.rela.text', 1, RELAS, SYMTAB), relaSection('.klp.rela.vmlinux..text', 1, KLP, SYMTAB, SHF_RELA_LIVEPATCH)],
    symbols: SYMBOLS,
  });
}

describe('[elf]: write then read', () => {
  it('reads back the header, sections and symbols it wrote', () => {
    const f = readElf(module());
    expect(f).toMatchObject({ type: ET_REL, machine: EM_X86_64, entry: 0n, symtabIndex: SYMTAB });
    expect(f.sections.map((s) => s.name)).toEqual(['', '.text', '.data', '.bss', '.rela.text', '.klp.rela.vmlinux..text', '.symtab', '.strtab', '.shstrtab']);
    expect(Buffer.from(f.sections[1]!.data)).toEqual(Buffer.from(text));
    expect(f.sections[3]).toMatchObject({ type: SHT_NOBITS, size: 64, data: Buffer.alloc(0) });
    expect(f.sections[SYMTAB]!.info).toBe(3); // first global: index 3 (null, FILE, local_obj precede it)
    expect(f.symbols.map((s) => [s.index, s.name, s.type, s.bind, s.shndx, s.value, s.size])).toEqual([
      [0, '', 0, 0, 0, 0n, 0],
      [1, 'livepatch.c', STT_FILE, STB_LOCAL, SHN_ABS, 0n, 0],
      [2, 'local_obj', STT_OBJECT, STB_LOCAL, 2, 8n, 8],
      [3, 'livepatch_fn', STT_FUNC, STB_GLOBAL, 1, 0n, text.length],
      [4, 'printk', STT_NOTYPE, STB_GLOBAL, SHN_UNDEF, 0n, 0],
      [5, '.klp.sym.vmlinux.show_val_kb,2', STT_FUNC, STB_GLOBAL, SHN_LIVEPATCH, 0n, 0],
    ]);
  });

  it('relaSection encodes, readRelas decodes (signed addends, symbol indices, flags and links)', () => {
    const f = readElf(module());
    const rela = f.sections.find((s) => s.name === '.rela.text')!;
    const klp = f.sections.find((s) => s.name === '.klp.rela.vmlinux..text')!;
    expect(rela).toMatchObject({ type: SHT_RELA, flags: SHF_INFO_LINK, link: SYMTAB, info: 1, entsize: RELA_SIZE, size: RELA_SIZE });
    expect(klp.flags).toBe(SHF_INFO_LINK | SHF_RELA_LIVEPATCH);
    expect(readRelas(f, rela)).toEqual(RELAS);
    expect(readRelas(f, klp)).toEqual(KLP);
  });

  it('binutils readelf accepts the module and shows relocations, livepatch flag and symbols', () => {
    const r = readelf(module(), ['-a', '-W']);
    expect(r.status).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).not.toMatch(/warning|error/i);
    expect(r.out).toMatch(/Type:\s+REL \(Relocatable file\)/);
    expect(r.out).toMatch(/Relocation section '\.rela\.text' at offset 0x[0-9a-f]+ contains 1 entry/);
    expect(r.out).toMatch(/000000000000000a\s+0000000400000004 R_X86_64_PLT32\s+0000000000000000 printk - 4/);
    expect(r.out).toMatch(/R_X86_64_PC32\s+0000000000000000 \.klp\.sym\.vmlinux\.show_val_kb,2 - 4/);
    expect(r.out).toMatch(/R_X86_64_64\s+0000000000000000 livepatch_fn \+ 8/);
    expect(r.out).toMatch(new RegExp(`\\.rela\\.text\\s+RELA\\s+\\S+ \\S+ 000018 18\\s+I\\s+${SYMTAB}\\s+1\\s+8`));
    expect(r.out).toMatch(new RegExp(`\\.klp\\.rela\\.vmlinux\\.\\.text\\s+RELA\\s+\\S+ \\S+ 000030 18\\s+Io\\s+${SYMTAB}\\s+1\\s+8`));
    expect(r.out).toMatch(/\d+: 0000000000000008\s+8 OBJECT\s+LOCAL\s+DEFAULT\s+2 local_obj/);
  });

  it('ET_EXEC: one PT_LOAD per run of same-permission sections, offsets congruent to addresses', () => {
    const base = 0xffffffff81000000n;
    const elf = writeElf({
      type: ET_EXEC, entry: base + 5n,
      sections: [
        { name: '.text', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_EXECINSTR, addr: base, data: text, align: 8 },
        { name: '.rodata', type: SHT_PROGBITS, flags: SHF_ALLOC, addr: base + 0x1000n, data: Uint8Array.of(1, 2, 3), align: 8 },
        { name: '.data', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_WRITE, addr: base + 0x2008n, data: Uint8Array.of(4), align: 8 },
        { name: '.bss', type: SHT_NOBITS, flags: SHF_ALLOC | SHF_WRITE, addr: base + 0x3000n, size: 0x100, align: 8 },
      ],
    });
    const f = readElf(elf);
    expect(f.entry).toBe(base + 5n);
    for (const s of f.sections.filter((x) => x.flags & SHF_ALLOC)) expect(BigInt(s.offset) % 0x1000n).toBe(s.addr % 0x1000n);
    const r = readelf(elf, ['-l', '-W']);
    expect(r.status).toBe(0);
    expect(r.err).toBe('');
    const loads = r.out.split('\n').filter((l) => /^\s+LOAD/.test(l)).map((l) => l.trim().split(/\s+/));
    expect(loads.map((l) => [l[2], l[4], l[5], l.slice(6, -1).join('')])).toEqual([
      ['0xffffffff81000000', '0x000010', '0x000010', 'RE'],
      ['0xffffffff81001000', '0x000003', '0x000003', 'R'],
      ['0xffffffff81002008', '0x000001', '0x0010f8', 'RW'],
    ]);
  });

  it('StrTab shares repeated strings and keeps offset 0 for the empty one', () => {
    const t = new StrTab();
    expect(t.add('')).toBe(0);
    expect(t.add('a')).toBe(1);
    expect(t.add('bc')).toBe(3);
    expect(t.add('a')).toBe(1);
    expect(t.bytes()).toEqual(Buffer.from('\0a\0bc\0', 'latin1'));
  });
});
