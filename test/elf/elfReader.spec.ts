// elfReader.spec.ts - malformed ELF input: every defect is an EmuError kind 'elf' naming it, never a RangeError/TypeError

import { describe, expect, it } from 'vitest';
import { EmuError } from '../../emu/errors.ts';
import {
  ET_EXEC, ET_REL, R_X86_64_PC32, SHF_ALLOC, SHF_EXECINSTR, SHN_UNDEF, SHT_NOBITS, SHT_PROGBITS, SHT_RELA, STB_GLOBAL,
  STB_LOCAL, STT_FUNC, STT_NOTYPE, STT_OBJECT, readElf, readRelas, relaSection, writeElf,
} from '../../src/elf/index.ts';
import { parseImage } from '../../src/kernel/loadImage.ts';

// .text(1) .data(2) .rela.text(3) .symtab(4) .strtab(5) .shstrtab(6)
const SYMTAB = 4;
function module(relaSym = 3): Buffer {
  return writeElf({
    type: ET_REL,
    sections: [
      { name: '.text', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_EXECINSTR, data: Uint8Array.of(0xe8, 0, 0, 0, 0, 0xc3), align: 16 },
      { name: '.data', type: SHT_PROGBITS, flags: SHF_ALLOC, data: new Uint8Array(8), align: 8 },
      relaSection('.rela.text', 1, [{ offset: 1n, type: R_X86_64_PC32, sym: relaSym, addend: -4n }], SYMTAB),
    ],
    symbols: [
      { name: 'obj', value: 0n, size: 8, type: STT_OBJECT, bind: STB_LOCAL, shndx: 2 },
      { name: 'fn', value: 0n, size: 6, type: STT_FUNC, bind: STB_GLOBAL, shndx: 1 },
      { name: 'ext', value: 0n, size: 0, type: STT_NOTYPE, bind: STB_GLOBAL, shndx: SHN_UNDEF },
    ],
  });
}

const GOOD = module();
const SHOFF = Number(GOOD.readBigUInt64LE(40));
const SHNUM = GOOD.readUInt16LE(60);
const sh = (i: number, field: number): number => SHOFF + i * 64 + field;
const symAt = (i: number, field: number): number => Number(GOOD.readBigUInt64LE(sh(SYMTAB, 24))) + i * 24 + field;

/** The error `fn` throws, required to be EmuError kind 'elf'. */
function elfError(fn: () => unknown): EmuError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a throw').toBeDefined();
  expect(err).toBeInstanceOf(EmuError);
  expect((err as EmuError).kind).toBe('elf');
  return err as EmuError;
}

/** A copy of GOOD with `edit` applied. */
const bad = (edit: (b: Buffer) => void): Buffer => {
  const b = Buffer.from(GOOD);
  edit(b);
  return b;
};

describe('[elf/elfReader]: malformed input', () => {
  it('parses the unmodified files (controls), also from a view with a byteOffset', () => {
    expect(readElf(GOOD).symbols.map((s) => s.name)).toEqual(['', 'obj', 'fn', 'ext']);
    const padded = new Uint8Array(GOOD.length + 3);
    padded.set(GOOD, 3);
    expect(readElf(padded.subarray(3)).sections.map((s) => s.name)).toEqual(readElf(GOOD).sections.map((s) => s.name));
  });

  it('truncated files', () => {
    expect(elfError(() => readElf(new Uint8Array(0))).message).toBe('truncated ELF header (0 bytes)');
    expect(elfError(() => readElf(GOOD.subarray(0, 63))).message).toBe('truncated ELF header (63 bytes)');
    for (const n of [64, SHOFF, GOOD.length - 1]) {
      expect(elfError(() => readElf(GOOD.subarray(0, n))).message).toMatch(/^section headers \(offset \d+, \d+ entries\) run past the end of the file$/);
    }
  });

  it('bad identification and machine', () => {
    expect(elfError(() => readElf(bad((b) => (b[0] = 0x7e)))).message).toBe('bad ELF magic');
    expect(elfError(() => readElf(bad((b) => (b[4] = 1)))).message).toMatch(/not a 64-bit ELF/);
    expect(elfError(() => readElf(bad((b) => (b[5] = 2)))).message).toMatch(/not little-endian/);
    expect(elfError(() => readElf(bad((b) => b.writeUInt16LE(3, 18)))).message).toBe('e_machine 3 is not EM_X86_64 (62)');
  });

  it('section header table past EOF, wrong entry size, bad e_shstrndx', () => {
    expect(elfError(() => readElf(bad((b) => b.writeBigUInt64LE(BigInt(b.length), 40)))).message).toBe(`section headers (offset ${GOOD.length}, ${SHNUM} entries) run past the end of the file`);
    expect(elfError(() => readElf(bad((b) => b.writeBigUInt64LE(2n ** 64n - 1n, 40)))).message).toMatch(/run past the end of the file/);
    expect(elfError(() => readElf(bad((b) => b.writeUInt16LE(0xffff, 60)))).message).toMatch(/run past the end of the file/);
    expect(elfError(() => readElf(bad((b) => b.writeUInt16LE(40, 58)))).message).toBe('e_shentsize 40 is not 64');
    expect(elfError(() => readElf(bad((b) => b.writeUInt16LE(SHNUM, 62)))).message).toBe(`e_shstrndx ${SHNUM} out of range`);
  });

  it('section contents past EOF and bad section names', () => {
    expect(elfError(() => readElf(bad((b) => b.writeBigUInt64LE(0x100000n, sh(1, 32))))).message).toMatch(/^section 1: contents \(offset \d+, size 1048576\) run past the end of the file$/);
    expect(elfError(() => readElf(bad((b) => b.writeBigUInt64LE(2n ** 63n, sh(2, 24))))).message).toMatch(/^section 2: contents .* run past the end of the file$/);
    expect(elfError(() => readElf(bad((b) => b.writeUInt32LE(0x7fffffff, sh(1, 0))))).message).toMatch(/^section 1 name: string offset 2147483647 outside its table/);
    const shstr = SHNUM - 1;
    expect(elfError(() => readElf(bad((b) => b.writeBigUInt64LE(b.readBigUInt64LE(sh(shstr, 32)) - 1n, sh(shstr, 32))))).message).toMatch(/name: unterminated string/);
    // a NOBITS section may point anywhere: no error
    expect(() => readElf(bad((b) => { b.writeUInt32LE(SHT_NOBITS, sh(2, 4)); b.writeBigUInt64LE(0x100000n, sh(2, 32)); }))).not.toThrow();
  });

  it('symbol table defects: entry size, string table link, name offset, out-of-range shndx', () => {
    expect(elfError(() => readElf(bad((b) => b.writeBigUInt64LE(16n, sh(SYMTAB, 56))))).message).toBe('.symtab: bad entry size 16/96');
    expect(elfError(() => readElf(bad((b) => b.writeUInt32LE(0, sh(SYMTAB, 40))))).message).toBe('.symtab: sh_link 0 is not a string table');
    expect(elfError(() => readElf(bad((b) => b.writeUInt32LE(99, sh(SYMTAB, 40))))).message).toBe('.symtab: sh_link 99 is not a string table');
    expect(elfError(() => readElf(bad((b) => b.writeUInt32LE(5000, symAt(2, 0))))).message).toMatch(/^symbol 2 name: string offset 5000 outside its table/);
    expect(elfError(() => readElf(bad((b) => b.writeUInt16LE(50, symAt(2, 6))))).message).toBe('symbol 2: section index 50 out of range');
    expect(elfError(() => readElf(bad((b) => b.writeUInt16LE(SHNUM, symAt(1, 6))))).message).toBe(`symbol 1: section index ${SHNUM} out of range`);
    // reserved indices (SHN_ABS, SHN_LIVEPATCH, ...) are not section numbers
    expect(readElf(bad((b) => b.writeUInt16LE(0xfff1, symAt(2, 6)))).symbols[2]!.shndx).toBe(0xfff1);
  });

  it('relocation defects: symbol index out of range, size, section type', () => {
    const f = readElf(module(99));
    const rela = f.sections.find((s) => s.type === SHT_RELA)!;
    expect(elfError(() => readRelas(f, rela)).message).toBe('.rela.text: relocation 0 uses symbol 99 of 4');
    const g = readElf(bad((b) => b.writeBigUInt64LE(20n, sh(3, 32))));
    expect(elfError(() => readRelas(g, g.sections[3]!)).message).toBe('.rela.text: size 20 is not a multiple of 24');
    expect(elfError(() => readRelas(g, g.sections[1]!)).message).toBe('.text is not SHT_RELA');
    expect(readRelas(readElf(GOOD), readElf(GOOD).sections[3]!)).toEqual([{ offset: 1n, type: R_X86_64_PC32, sym: 3, addend: -4n }]);
  });

  it('parseImage refuses a relocatable file and a ragged __mcount_loc', () => {
    expect(elfError(() => parseImage(GOOD, 'mod.ko')).message).toBe('mod.ko: e_type 1 is not ET_EXEC');
    const exec = (mcount: Uint8Array): Buffer => writeElf({
      type: ET_EXEC, entry: 0xffffffff81000000n,
      sections: [{ name: '__mcount_loc', type: SHT_PROGBITS, flags: SHF_ALLOC, addr: 0xffffffff81001000n, data: mcount, align: 8 }],
    });
    expect(parseImage(exec(new Uint8Array(16))).mcountLoc).toEqual([0n, 0n]);
    expect(elfError(() => parseImage(exec(new Uint8Array(12)))).message).toBe('__mcount_loc: size 12 is not a multiple of 8');
  });

  it('random corruption of headers and tables only ever raises EmuError kind elf', () => {
    let seed = 0x5eed;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const symOff = symAt(0, 0);
    let parsed = 0;
    for (let it = 0; it < 4000; it++) {
      const b = Buffer.from(GOOD);
      for (let k = 1 + rnd(3); k > 0; k--) {
        const zone = rnd(3);
        const pos = zone === 0 ? rnd(64) : zone === 1 ? SHOFF + rnd(b.length - SHOFF) : symOff + rnd(4 * 24);
        b[pos] = rnd(256);
      }
      try {
        const f = readElf(b);
        parsed++;
        for (const s of f.sections) if (s.type === SHT_RELA) readRelas(f, s);
      } catch (e) {
        if (!(e instanceof EmuError) || e.kind !== 'elf') throw new Error(`iteration ${it}: ${String(e)}`);
      }
    }
    expect(parsed).toBeGreaterThan(100); // the corruption does not only hit fatal fields
    expect(parsed).toBeLessThan(4000);
  });
});
