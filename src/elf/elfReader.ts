// elfReader.ts - parse ELF64 x86-64 files strictly: every offset, size and index is bounds-checked

import { EmuError } from '../../emu/errors.ts';
import {
  EHDR_SIZE, EM_X86_64, RELA_SIZE, SHDR_SIZE, SHT_NOBITS, SHT_RELA, SHT_SYMTAB, SYM_SIZE,
} from './elfConst.ts';

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  addr: bigint;
  offset: number;
  size: number;
  link: number;
  info: number;
  align: number;
  entsize: number;
  /** File bytes (empty for NOBITS). */
  data: Buffer;
}

export interface ElfSymbol {
  index: number;
  name: string;
  value: bigint;
  size: number;
  type: number;
  bind: number;
  other: number;
  shndx: number;
}

export interface ElfRela {
  offset: bigint;
  type: number;
  sym: number;
  addend: bigint;
}

export interface ElfFile {
  type: number;
  machine: number;
  entry: bigint;
  sections: ElfSection[];
  symbols: ElfSymbol[];
  /** The symtab section index (0 if none). */
  symtabIndex: number;
}

function bad(msg: string): never {
  throw new EmuError('elf', msg, { op: 'elf_parse' });
}

function cstr(b: Buffer, off: number, what: string): string {
  if (off < 0 || off >= b.length) bad(`${what}: string offset ${off} outside its table (${b.length} bytes)`);
  const end = b.indexOf(0, off);
  if (end < 0) bad(`${what}: unterminated string at ${off}`);
  return b.toString('latin1', off, end);
}

function readHeader(b: Buffer): { type: number; machine: number; entry: bigint; shoff: number; shnum: number; shstrndx: number } {
  if (b.length < EHDR_SIZE) bad(`truncated ELF header (${b.length} bytes)`);
  if (b.readUInt32BE(0) !== 0x7f454c46) bad('bad ELF magic');
  if (b[4] !== 2) bad('not a 64-bit ELF (EI_CLASS)');
  if (b[5] !== 1) bad('not little-endian (EI_DATA)');
  const shoff = Number(b.readBigUInt64LE(40));
  const shentsize = b.readUInt16LE(58);
  const shnum = b.readUInt16LE(60);
  const shstrndx = b.readUInt16LE(62);
  if (shnum > 0 && shentsize !== SHDR_SIZE) bad(`e_shentsize ${shentsize} is not ${SHDR_SIZE}`);
  if (shoff + shnum * SHDR_SIZE > b.length) bad(`section headers (offset ${shoff}, ${shnum} entries) run past the end of the file`);
  if (shnum && shstrndx >= shnum) bad(`e_shstrndx ${shstrndx} out of range`);
  return { type: b.readUInt16LE(16), machine: b.readUInt16LE(18), entry: b.readBigUInt64LE(24), shoff, shnum, shstrndx };
}

function readSections(b: Buffer, shoff: number, shnum: number, shstrndx: number): ElfSection[] {
  const raw: ElfSection[] = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * SHDR_SIZE;
    const type = b.readUInt32LE(o + 4);
    const offset = Number(b.readBigUInt64LE(o + 24));
    const size = Number(b.readBigUInt64LE(o + 32));
    if (type !== SHT_NOBITS && i > 0 && offset + size > b.length) bad(`section ${i}: contents (offset ${offset}, size ${size}) run past the end of the file`);
    raw.push({
      index: i, name: '', type, flags: Number(b.readBigUInt64LE(o + 8)), addr: b.readBigUInt64LE(o + 16), offset, size,
      link: b.readUInt32LE(o + 40), info: b.readUInt32LE(o + 44), align: Number(b.readBigUInt64LE(o + 48)),
      entsize: Number(b.readBigUInt64LE(o + 56)),
      data: type === SHT_NOBITS || i === 0 ? Buffer.alloc(0) : b.subarray(offset, offset + size),
    });
    (raw[i] as { nameOff?: number }).nameOff = b.readUInt32LE(o);
  }
  const shstr = raw[shstrndx]?.data ?? Buffer.alloc(0);
  for (const s of raw) s.name = s.index === 0 ? '' : cstr(shstr, (s as { nameOff?: number }).nameOff!, `section ${s.index} name`);
  return raw;
}

function readSymbols(secs: ElfSection[]): { symbols: ElfSymbol[]; symtabIndex: number } {
  const st = secs.find((s) => s.type === SHT_SYMTAB);
  if (!st) return { symbols: [], symtabIndex: 0 };
  if (st.entsize !== SYM_SIZE || st.size % SYM_SIZE) bad(`${st.name}: bad entry size ${st.entsize}/${st.size}`);
  const strs = secs[st.link];
  if (!strs || st.link === 0) bad(`${st.name}: sh_link ${st.link} is not a string table`);
  const symbols: ElfSymbol[] = [];
  for (let i = 0; i < st.size / SYM_SIZE; i++) {
    const o = i * SYM_SIZE;
    const info = st.data[o + 4]!;
    const shndx = st.data.readUInt16LE(o + 6);
    if (shndx !== 0 && shndx < 0xff00 && shndx >= secs.length) bad(`symbol ${i}: section index ${shndx} out of range`);
    symbols.push({
      index: i, name: cstr(strs.data, st.data.readUInt32LE(o), `symbol ${i} name`), value: st.data.readBigUInt64LE(o + 8),
      size: Number(st.data.readBigUInt64LE(o + 16)), type: info & 0xf, bind: info >> 4, other: st.data[o + 5]!, shndx,
    });
  }
  return { symbols, symtabIndex: st.index };
}

/**
 * Parse an ELF64 little-endian x86-64 file.
 * @throws EmuError kind 'elf' naming the offending field for any malformed input
 */
export function readElf(input: Uint8Array): ElfFile {
  const b = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const h = readHeader(b);
  if (h.machine !== EM_X86_64) bad(`e_machine ${h.machine} is not EM_X86_64 (62)`);
  const sections = readSections(b, h.shoff, h.shnum, h.shstrndx);
  const { symbols, symtabIndex } = readSymbols(sections);
  return { type: h.type, machine: h.machine, entry: h.entry, sections, symbols, symtabIndex };
}

/** The relocations of an SHT_RELA section, each symbol index checked. */
export function readRelas(f: ElfFile, sec: ElfSection): ElfRela[] {
  if (sec.type !== SHT_RELA) bad(`${sec.name} is not SHT_RELA`);
  if (sec.size % RELA_SIZE) bad(`${sec.name}: size ${sec.size} is not a multiple of ${RELA_SIZE}`);
  const out: ElfRela[] = [];
  for (let o = 0; o < sec.size; o += RELA_SIZE) {
    const info = sec.data.readBigUInt64LE(o + 8);
    const sym = Number(info >> 32n);
    if (sym >= f.symbols.length) bad(`${sec.name}: relocation ${o / RELA_SIZE} uses symbol ${sym} of ${f.symbols.length}`);
    out.push({ offset: sec.data.readBigUInt64LE(o), type: Number(info & 0xffffffffn), sym, addend: sec.data.readBigInt64LE(o + 16) });
  }
  return out;
}
