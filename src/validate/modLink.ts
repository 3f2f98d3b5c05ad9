// modLink.ts - link a .ko on the host as load_module would, recording every relocation's outcome
//
// Mirrors src/module/loader.ts (layout, simplify_symbols) and relocate.ts
// (apply_relocate_add, klp_resolve_symbols), but never stops at the first
// problem: each relocation and each .klp.sym symbol gets an outcome the
// checks turn into evidence. Nothing touches a machine.

import {
  readElf, readRelas, ET_REL, R_X86_64_32, R_X86_64_32S, R_X86_64_64, R_X86_64_PC32, R_X86_64_PLT32, RELOC_NAMES,
  SHF_ALLOC, SHF_EXECINSTR, SHF_RELA_LIVEPATCH, SHN_ABS, SHN_LIVEPATCH, SHN_UNDEF, SHT_NOBITS, SHT_RELA, STB_LOCAL, STT_FUNC, STT_OBJECT,
} from '../elf/index.ts';
import type { ElfFile } from '../elf/index.ts';
import { Kallsyms, type KSym } from '../kernel/kallsyms.ts';
import { MemoryMap } from '../abi/layout.ts';
import type { KernelView } from './kernelView.ts';
import { ValidateInputError } from './types.ts';

/** Where a fresh system's module_alloc puts the first module (the first page is callGuest's stub). */
export const STATIC_MODULE_BASE = MemoryMap.MODULES_VADDR + 0x1000n;
const SIZE: Record<number, number> = { [R_X86_64_64]: 8, [R_X86_64_PC32]: 4, [R_X86_64_PLT32]: 4, [R_X86_64_32]: 4, [R_X86_64_32S]: 4 };

/** One relocation and what applying it would do. */
export interface RelocOutcome {
  section: string;
  index: number;
  type: number;
  sym: string;
  /** Where the field is: module address, and `section+0xoff`. */
  loc: bigint;
  where: string;
  /** The field's value in the file (must be zero). */
  existing: bigint;
  value?: bigint;
  problem?: 'type' | 'offset' | 'symbol' | 'overflow' | 'deferred';
  detail: string;
}

/** A SHN_LIVEPATCH symbol (or a symbol a .klp.rela section uses) and its resolution. */
export interface KlpSymOutcome {
  name: string;
  obj?: string;
  sym?: string;
  sympos?: number;
  addr?: bigint;
  /** undefined when it resolved; `deferred` when its object is not vmlinux. */
  problem?: string;
}

export interface LinkedModule {
  file: string;
  elf: ElfFile;
  name?: string;
  modinfo: Map<string, string[]>;
  base: bigint;
  /** The relocated image (text first, as layout_sections). */
  image: Uint8Array;
  secAddr: Map<number, bigint>;
  /** Function and object symbols at their module addresses (obj = module name). */
  symbols: KSym[];
  relocs: RelocOutcome[];
  klpSyms: KlpSymOutcome[];
  undefined: { name: string; addr?: bigint }[];
  /** Relocated __mcount_loc entries. */
  mcountLoc: bigint[];
  /** Bytes of the image at a module address. */
  read(addr: bigint, n: number): Uint8Array | undefined;
}

export const relocName = (t: number): string => RELOC_NAMES[t] ?? `type ${t}`;

function modinfoOf(f: ElfFile): Map<string, string[]> {
  const s = f.sections.find((x) => x.name === '.modinfo');
  const out = new Map<string, string[]>();
  for (const kv of s ? s.data.toString('latin1').split('\0').filter(Boolean) : []) {
    const i = kv.indexOf('=');
    const k = i < 0 ? kv : kv.slice(0, i);
    (out.get(k) ?? out.set(k, []).get(k)!).push(i < 0 ? '' : kv.slice(i + 1));
  }
  return out;
}

function layout(f: ElfFile, base: bigint): { size: number; secAddr: Map<number, bigint>; off: Map<number, number> } {
  const alloc = f.sections.filter((s) => s.flags & SHF_ALLOC && s.type !== SHT_RELA && s.size > 0);
  alloc.sort((a, b) => Number((b.flags & SHF_EXECINSTR) !== 0) - Number((a.flags & SHF_EXECINSTR) !== 0) || a.index - b.index);
  let o = 0;
  const secAddr = new Map<number, bigint>();
  const off = new Map<number, number>();
  for (const s of alloc) {
    const a = Math.max(1, s.align);
    o = Math.ceil(o / a) * a;
    off.set(s.index, o);
    secAddr.set(s.index, base + BigInt(o));
    o += s.size;
  }
  return { size: Math.max(o, 1), secAddr, off };
}

/** Where a fresh system puts a module the patch targets, when it is loaded before the patch (static checks only). */
export const STATIC_OBJECT_BASE = MemoryMap.MODULES_VADDR + 0x100_0000n;

/** Kallsyms of the patched modules the caller supplied (`--with TARGET.ko`), by module name. */
export type ObjectSyms = ReadonlyMap<string, Kallsyms>;

/**
 * klp_resolve_symbols() for one name: `.klp.sym.<obj>.<name>,<sympos>` through
 * the kernel's kallsyms, or through a supplied module's symbols for another
 * object (deferred when that module is not supplied).
 */
export function resolveKlpSym(view: KernelView, name: string, objects: ObjectSyms = new Map()): KlpSymOutcome {
  const m = /^\.klp\.sym\.([^.]{1,55})\.([^,]{1,511}),(\d+)$/.exec(name);
  if (!m) return { name, problem: `symbol ${name} has an incorrectly formatted name` };
  const [, obj, sym, pos] = m;
  const sympos = Number(pos);
  const base = { name, obj: obj!, sym: sym!, sympos };
  const ks = obj === 'vmlinux' ? view.kallsyms : objects.get(obj!);
  if (!ks) return { ...base, problem: 'deferred' };
  const { sym: found, count } = ks.lookupSympos(obj!, sym!, sympos);
  if (found) return { ...base, addr: found.addr };
  if (count === 0) return { ...base, problem: `symbol '${sym}' not found in symbol table` };
  if (sympos === 0) return { ...base, problem: `unresolvable ambiguity for symbol '${sym}' in object '${obj}' (${count} candidates)` };
  return { ...base, problem: `symbol position ${sympos} for symbol '${sym}' in object '${obj}' not found (${count} candidates)` };
}

/** Parse and link a module. @throws ValidateInputError when the bytes are not an ELF file */
export function linkModule(bytes: Uint8Array, file: string, view: KernelView, base = STATIC_MODULE_BASE, objects: ObjectSyms = new Map()): LinkedModule {
  let elf: ElfFile;
  try {
    elf = readElf(bytes);
  } catch (e) {
    throw new ValidateInputError(`${file}: not a valid ELF file (${(e as Error).message})`);
  }
  const modinfo = modinfoOf(elf);
  const { size, secAddr, off } = layout(elf, base);
  const image = new Uint8Array(size);
  for (const [idx, o] of off) if (elf.sections[idx]!.type !== SHT_NOBITS) image.set(elf.sections[idx]!.data, o);
  const read = (addr: bigint, n: number): Uint8Array | undefined =>
    addr >= base && addr + BigInt(n) <= base + BigInt(size) ? image.subarray(Number(addr - base), Number(addr - base) + n) : undefined;
  const lm: LinkedModule = {
    file, elf, name: modinfo.get('name')?.[0], modinfo, base, image, secAddr, symbols: [], relocs: [], klpSyms: [], undefined: [], mcountLoc: [], read,
  };
  if (elf.type !== ET_REL) return lm;
  const values = symbolValues(lm, view, objects);
  applyAll(lm, values, objects);
  lm.symbols = elf.symbols
    .filter((s) => (s.type === STT_FUNC || s.type === STT_OBJECT) && secAddr.has(s.shndx))
    .map((s) => ({ name: s.name, addr: secAddr.get(s.shndx)! + s.value, size: s.size, type: s.type === STT_FUNC ? 'func' : 'object', global: s.bind !== STB_LOCAL, obj: lm.name ?? '?' }));
  const mc = elf.sections.find((s) => s.name === '__mcount_loc');
  const at = mc ? secAddr.get(mc.index) : undefined;
  if (mc && at !== undefined) for (let o = 0; o + 8 <= mc.size; o += 8) lm.mcountLoc.push(Buffer.from(read(at + BigInt(o), 8)!).readBigUInt64LE(0));
  return lm;
}

/** simplify_symbols(): st_value of every symbol (undefined ones from vmlinux's exports). */
function symbolValues(lm: LinkedModule, view: KernelView, objects: ObjectSyms): (bigint | undefined)[] {
  return lm.elf.symbols.map((s) => {
    if (s.index === 0) return 0n;
    if (s.shndx === SHN_UNDEF) {
      const k = view.exported.has(s.name) ? view.kallsyms.lookup(s.name) : undefined;
      lm.undefined.push({ name: s.name, ...(k ? { addr: k.addr } : {}) });
      return k?.addr;
    }
    if (s.shndx === SHN_LIVEPATCH) {
      const r = resolveKlpSym(view, s.name, objects);
      lm.klpSyms.push(r);
      return r.addr;
    }
    if (s.shndx === SHN_ABS) return s.value;
    return (lm.secAddr.get(s.shndx) ?? 0n) + s.value;
  });
}

/** apply_relocate_add() for every SHT_RELA section into an allocated one. */
function applyAll(lm: LinkedModule, values: (bigint | undefined)[], objects: ObjectSyms): void {
  const view8 = Buffer.from(lm.image.buffer, lm.image.byteOffset, lm.image.byteLength);
  for (const sec of lm.elf.sections) {
    if (sec.type !== SHT_RELA || !lm.secAddr.has(sec.info)) continue;
    const klp = (sec.flags & SHF_RELA_LIVEPATCH) !== 0;
    const klpObj = klp ? /^\.klp\.rela\.([^.]{1,55})\./.exec(sec.name)?.[1] : undefined;
    const target = lm.elf.sections[sec.info]!;
    const tbase = lm.secAddr.get(sec.info)!;
    readRelas(lm.elf, sec).forEach((r, index) => {
      const sym = lm.elf.symbols[r.sym];
      const o: RelocOutcome = { section: sec.name, index, type: r.type, sym: sym?.name || target.name, loc: tbase + r.offset, where: `${target.name}+0x${r.offset.toString(16)}`, existing: 0n, detail: '' };
      lm.relocs.push(o);
      const size = SIZE[r.type];
      if (!size) return Object.assign(o, { problem: 'type', detail: `unknown relocation type ${r.type}` });
      if (r.offset + BigInt(size) > BigInt(target.size)) return Object.assign(o, { problem: 'offset', detail: `offset 0x${r.offset.toString(16)} + ${size} is outside ${target.name} (${target.size} bytes)` });
      const at = Number(o.loc - lm.base);
      o.existing = size === 8 ? view8.readBigUInt64LE(at) : BigInt(view8.readUInt32LE(at));
      if (klp && klpObj !== 'vmlinux' && !(klpObj && objects.has(klpObj))) return Object.assign(o, { problem: 'deferred', detail: `applied when ${klpObj ?? '?'} loads` });
      if (klp && sym?.shndx !== SHN_LIVEPATCH) return Object.assign(o, { problem: 'symbol', detail: `symbol ${sym?.name} is not marked as a livepatch symbol` });
      if (!klp && sym?.shndx === SHN_LIVEPATCH) return Object.assign(o, { problem: 'symbol', detail: `${sym.name} used from a non-livepatch relocation section` });
      const s = values[r.sym];
      if (s === undefined) return Object.assign(o, { problem: 'symbol', detail: `${sym?.name ?? r.sym} does not resolve` });
      let v = s + r.addend;
      if (r.type === R_X86_64_PC32 || r.type === R_X86_64_PLT32) v -= o.loc;
      o.value = v;
      const fits = r.type === R_X86_64_64 || (r.type === R_X86_64_32 ? v >= 0n && v <= 0xffff_ffffn : v >= -0x8000_0000n && v <= 0x7fff_ffffn);
      if (!fits) return Object.assign(o, { problem: 'overflow', detail: `value 0x${BigInt.asUintN(64, v).toString(16)} (S 0x${BigInt.asUintN(64, s).toString(16)} + A ${r.addend}${r.type === R_X86_64_PC32 || r.type === R_X86_64_PLT32 ? ' - P' : ''}) does not fit ${relocName(r.type)}` });
      if (size === 8) view8.writeBigUInt64LE(BigInt.asUintN(64, v), at);
      else view8.writeUInt32LE(Number(BigInt.asUintN(32, v)), at);
      return undefined;
    });
  }
}

/** The symbols of a linked module as kallsyms sees them once it is loaded. */
export const moduleKallsyms = (lm: LinkedModule): Kallsyms => new Kallsyms(lm.symbols);
