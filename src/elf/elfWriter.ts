// elfWriter.ts - write ELF64 x86-64 files: vmlinux (ET_EXEC) and modules (ET_REL)

import {
  EHDR_SIZE, EM_X86_64, ET_EXEC, PF_R, PF_W, PF_X, PHDR_SIZE, PT_LOAD, SHDR_SIZE, SHF_ALLOC, SHF_EXECINSTR,
  SHF_WRITE, SHT_NOBITS, SHT_STRTAB, SHT_SYMTAB, SYM_SIZE, STB_LOCAL, RELA_SIZE, SHF_INFO_LINK, SHT_RELA,
} from './elfConst.ts';

/** A section to write; index 0 (SHT_NULL) is implicit. */
export interface OutSection {
  name: string;
  type: number;
  flags: number;
  addr?: bigint;
  /** Contents; for SHT_NOBITS give `size` instead. */
  data?: Uint8Array;
  size?: number;
  align?: number;
  link?: number;
  info?: number;
  entsize?: number;
}

/** A symbol; `shndx` is a 1-based index into `sections` (as written) or a special SHN_* value. */
export interface OutSymbol {
  name: string;
  value: bigint;
  size: number;
  type: number;
  bind: number;
  shndx: number;
  other?: number;
}

/** A relocation (Elf64_Rela) with the symbol given by its index in the written symtab. */
export interface OutRela {
  offset: bigint;
  type: number;
  sym: number;
  addend: bigint;
}

export interface ElfImage {
  type: number;
  entry?: bigint;
  sections: OutSection[];
  /** Written into .symtab/.strtab (added at the end) when given; locals must come first. */
  symbols?: OutSymbol[];
}

/** A string table builder (offset 0 is the empty string). */
export class StrTab {
  private readonly parts: Buffer[] = [Buffer.from([0])];
  private readonly index = new Map<string, number>();
  private size = 1;

  add(s: string): number {
    if (s === '') return 0;
    const have = this.index.get(s);
    if (have !== undefined) return have;
    const off = this.size;
    const b = Buffer.from(s + '\0', 'latin1');
    this.parts.push(b);
    this.size += b.length;
    this.index.set(s, off);
    return off;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Encode relocations as SHT_RELA contents. */
export function encodeRelas(relas: readonly OutRela[]): Buffer {
  const b = Buffer.alloc(relas.length * RELA_SIZE);
  relas.forEach((r, i) => {
    b.writeBigUInt64LE(r.offset, i * RELA_SIZE);
    b.writeBigUInt64LE((BigInt(r.sym) << 32n) | BigInt(r.type), i * RELA_SIZE + 8);
    b.writeBigInt64LE(r.addend, i * RELA_SIZE + 16);
  });
  return b;
}

/** A RELA section header for `target` (1-based index) using the symtab that writeElf appends. */
export function relaSection(name: string, target: number, relas: readonly OutRela[], symtabIndex: number, extraFlags = 0): OutSection {
  return { name, type: SHT_RELA, flags: SHF_INFO_LINK | extraFlags, data: encodeRelas(relas), align: 8, link: symtabIndex, info: target, entsize: RELA_SIZE };
}

function encodeSymbols(syms: readonly OutSymbol[], strtab: StrTab): Buffer {
  const b = Buffer.alloc((syms.length + 1) * SYM_SIZE);
  syms.forEach((s, i) => {
    const o = (i + 1) * SYM_SIZE;
    b.writeUInt32LE(strtab.add(s.name), o);
    b[o + 4] = (s.bind << 4) | (s.type & 0xf);
    b[o + 5] = s.other ?? 0;
    b.writeUInt16LE(s.shndx, o + 6);
    b.writeBigUInt64LE(BigInt.asUintN(64, s.value), o + 8);
    b.writeBigUInt64LE(BigInt(s.size), o + 16);
  });
  return b;
}

const alignUp = (n: number, a: number): number => (a > 1 ? Math.ceil(n / a) * a : n);

function segmentsOf(secs: OutSection[]): { flags: number; vaddr: bigint; secs: number[] }[] {
  const segs: { flags: number; vaddr: bigint; secs: number[] }[] = [];
  secs.forEach((s, i) => {
    if (!(s.flags & SHF_ALLOC)) return;
    const flags = PF_R | (s.flags & SHF_WRITE ? PF_W : 0) | (s.flags & SHF_EXECINSTR ? PF_X : 0);
    const last = segs[segs.length - 1];
    if (last && last.flags === flags) last.secs.push(i);
    else segs.push({ flags, vaddr: s.addr ?? 0n, secs: [i] });
  });
  return segs;
}

/**
 * Serialize an ELF image. For ET_EXEC, PT_LOAD segments group consecutive
 * SHF_ALLOC sections with the same permissions, and each section's file
 * offset is congruent to its address modulo the page size.
 */
export function writeElf(img: ElfImage): Buffer {
  const secs = [...img.sections];
  const shstr = new StrTab();
  if (img.symbols) {
    const strtab = new StrTab();
    const symData = encodeSymbols(img.symbols, strtab);
    const firstGlobal = img.symbols.findIndex((s) => s.bind !== STB_LOCAL);
    const strIndex = secs.length + 2;
    secs.push({ name: '.symtab', type: SHT_SYMTAB, flags: 0, data: symData, align: 8, link: strIndex, info: firstGlobal < 0 ? img.symbols.length + 1 : firstGlobal + 1, entsize: SYM_SIZE });
    secs.push({ name: '.strtab', type: SHT_STRTAB, flags: 0, data: strtab.bytes(), align: 1 });
  }
  secs.push({ name: '.shstrtab', type: SHT_STRTAB, flags: 0, data: Buffer.alloc(0), align: 1 });
  const names = secs.map((s) => shstr.add(s.name));
  secs[secs.length - 1]!.data = shstr.bytes();
  const isExec = img.type === ET_EXEC;
  const segs = isExec ? segmentsOf(secs) : [];
  let off = EHDR_SIZE + segs.length * PHDR_SIZE;
  const offsets: number[] = [];
  for (const s of secs) {
    const a = s.align ?? 1;
    off = alignUp(off, a);
    if (isExec && s.flags & SHF_ALLOC && s.addr !== undefined) {
      const want = Number(s.addr % 0x1000n);
      off = off + ((want - (off % 0x1000) + 0x1000) % 0x1000);
    }
    offsets.push(off);
    if (s.type !== SHT_NOBITS) off += s.data?.length ?? 0;
  }
  const shoff = alignUp(off, 8);
  const out = Buffer.alloc(shoff + (secs.length + 1) * SHDR_SIZE);
  writeEhdr(out, img, segs.length, shoff, secs.length + 1);
  segs.forEach((g, i) => writePhdr(out, EHDR_SIZE + i * PHDR_SIZE, g, secs, offsets));
  secs.forEach((s, i) => {
    if (s.type !== SHT_NOBITS && s.data) out.set(s.data, offsets[i]!);
    writeShdr(out, shoff + (i + 1) * SHDR_SIZE, s, names[i]!, offsets[i]!);
  });
  return out;
}

function writeEhdr(b: Buffer, img: ElfImage, phnum: number, shoff: number, shnum: number): void {
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0);
  b.writeUInt16LE(img.type, 16);
  b.writeUInt16LE(EM_X86_64, 18);
  b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(img.entry ?? 0n, 24);
  b.writeBigUInt64LE(BigInt(phnum ? EHDR_SIZE : 0), 32);
  b.writeBigUInt64LE(BigInt(shoff), 40);
  b.writeUInt16LE(EHDR_SIZE, 52);
  b.writeUInt16LE(phnum ? PHDR_SIZE : 0, 54);
  b.writeUInt16LE(phnum, 56);
  b.writeUInt16LE(SHDR_SIZE, 58);
  b.writeUInt16LE(shnum, 60);
  b.writeUInt16LE(shnum - 1, 62);
}

function writePhdr(b: Buffer, o: number, g: { flags: number; vaddr: bigint; secs: number[] }, secs: OutSection[], offsets: number[]): void {
  const first = g.secs[0]!;
  const lastI = g.secs[g.secs.length - 1]!;
  const last = secs[lastI]!;
  const end = (last.addr ?? 0n) + BigInt(last.type === SHT_NOBITS ? last.size ?? 0 : last.data?.length ?? 0);
  const fileEnd = g.secs.filter((i) => secs[i]!.type !== SHT_NOBITS).reduce((e, i) => {
    const s = secs[i]!;
    return Math.max(e, offsets[i]! + (s.data?.length ?? 0));
  }, offsets[first]!);
  b.writeUInt32LE(PT_LOAD, o);
  b.writeUInt32LE(g.flags, o + 4);
  b.writeBigUInt64LE(BigInt(offsets[first]!), o + 8);
  b.writeBigUInt64LE(g.vaddr, o + 16);
  b.writeBigUInt64LE(g.vaddr & 0x7fffffffn, o + 24);
  b.writeBigUInt64LE(BigInt(fileEnd - offsets[first]!), o + 32);
  b.writeBigUInt64LE(end - g.vaddr, o + 40);
  b.writeBigUInt64LE(0x1000n, o + 48);
}

function writeShdr(b: Buffer, o: number, s: OutSection, name: number, off: number): void {
  b.writeUInt32LE(name, o);
  b.writeUInt32LE(s.type, o + 4);
  b.writeBigUInt64LE(BigInt(s.flags), o + 8);
  b.writeBigUInt64LE(s.addr ?? 0n, o + 16);
  b.writeBigUInt64LE(BigInt(off), o + 24);
  b.writeBigUInt64LE(BigInt(s.type === SHT_NOBITS ? s.size ?? 0 : s.data?.length ?? 0), o + 32);
  b.writeUInt32LE(s.link ?? 0, o + 40);
  b.writeUInt32LE(s.info ?? 0, o + 44);
  b.writeBigUInt64LE(BigInt(s.align ?? 1), o + 48);
  b.writeBigUInt64LE(BigInt(s.entsize ?? 0), o + 56);
}
