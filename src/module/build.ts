// build.ts - assemble a module source into an ELF64 ET_REL .ko (kpatch-build's create-klp-module, for assembly)
//
// One section per function (.text.<name>, as -ffunction-sections), .rodata,
// .data, .bss; relocations derived from keystone (relocs.ts); .modinfo from
// MODULE_* directives; livepatch symbols from KLP_SYM (their relocations go to
// .klp.rela.<obj>.<section>, SHF_RELA_LIVEPATCH, symbols SHN_LIVEPATCH);
// EXPORT_SYMBOL names in __ksymtab_strings; EXTERN names another module's export.

import { Keystone, Const } from 'keystone-wasm';
import { keystoneReady } from '../../emu/keystone.ts';
import { EmuError } from '../../emu/errors.ts';
import {
  writeElf, relaSection, ET_REL, R_X86_64_64, SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHF_RELA_LIVEPATCH, SHT_NOBITS, SHT_PROGBITS,
  SHN_LIVEPATCH, SHN_UNDEF, STB_GLOBAL, STB_LOCAL, STT_FILE, STT_FUNC, STT_NOTYPE, STT_OBJECT, STT_SECTION,
} from '../elf/index.ts';
import type { OutRela, OutSection, OutSymbol } from '../elf/index.ts';
import { parseSource, type AsmLine, type SymDecl } from '../build/sourceFile.ts';
import { splitDefinitions, usedNames, definedLabels, rejectAttOperands } from '../build/assemble.ts';
import { collectEquates, equateLines, foldEquates, layoutEquates } from '../build/equates.ts';
import { deriveRelocs, type DerivedReloc } from './relocs.ts';

await keystoneReady();
const ks = new Keystone(Const.KS_ARCH_X86, Const.KS_MODE_64);

/** What the module source declared besides code. */
interface ModuleMeta {
  modinfo: string[];
  init?: string;
  exit?: string;
  klpSyms: Map<string, { obj: string; sympos: number }>;
  /** EXTERN names: symbols another module exports (undefined here, resolved at load like vmlinux's). */
  externs: Set<string>;
  /** module_param_array()s: their kparam_array's max is ARRAY_SIZE(array), known once assembled. */
  arrays: { name: string; elemsize: number }[];
}

/** sizeof of a module_param_array element type. */
const ELEM_SIZE: Record<string, number> = { int: 4, uint: 4, bool: 1 };

/**
 * MODULE_PARM_ARRAY name type nump perm "desc" → module_param_array_named():
 * modinfo parm/parmtype ("array of <type>"), and in .data the struct
 * kparam_array `__param_arr_<name>` and struct kernel_param `__param_<name>`
 * (KPARAM_ARRAY, KERNEL_PARAM) the loader reads.
 */
function paramArrayLines(name: string, type: string, nump: string, perm: string): string[] {
  return [
    '.section .rodata',
    `SYM_DATA_START_LOCAL __param_str_${name}`, `\t.asciz "${name}"`, `SYM_DATA_END __param_str_${name}`,
    '.section .data', '.balign 8, 0',
    `SYM_DATA_START_LOCAL __param_arr_${name}`,
    '\t.long 0', `\t.long ${ELEM_SIZE[type]}`, `\t.quad ${nump}`, '\t.quad 0', `\t.quad ${name}`,
    `SYM_DATA_END __param_arr_${name}`,
    `SYM_DATA_START_LOCAL __param_${name}`,
    `\t.quad __param_str_${name}`, '\t.quad 0', '\t.quad 0', `\t.short ${perm}`, '\t.byte 0, 0', '\t.long 0', `\t.quad __param_arr_${name}`,
    `SYM_DATA_END __param_${name}`,
  ];
}

interface ModSection {
  name: string;
  body: AsmLine[];
  flags: number;
  nobits: boolean;
  labels: string[];
  bytes?: Uint8Array;
  relocs?: DerivedReloc[];
}

/** kmod's name for a module file: base name without .ko/.S, '-' → '_'. */
export function moduleNameOf(file: string): string {
  return file.replace(/^.*\//, '').replace(/\.(ko|S)$/, '').replace(/-/g, '_');
}

/** Strip MODULE_* and KLP_SYM directives from the source, collecting them. */
function readDirectives(name: string, text: string): { meta: ModuleMeta; rest: string } {
  const meta: ModuleMeta = { modinfo: [], klpSyms: new Map(), externs: new Set(), arrays: [] };
  const out: string[] = [];
  const tail: string[] = [];
  for (const raw of text.split('\n')) {
    const l = raw.replace(/#.*$/, '').trim();
    let m: RegExpExecArray | null;
    if ((m = /^MODULE_(LICENSE|DESCRIPTION|AUTHOR)\s+"([^"]*)"$/.exec(l))) meta.modinfo.push(`${m[1]!.toLowerCase()}=${m[2]}`);
    else if ((m = /^MODULE_INFO\s+(\w+)\s+(\S+)$/.exec(l))) meta.modinfo.push(`${m[1]}=${m[2]}`);
    else if ((m = /^MODULE_PARM\s+(\w+)\s+(\w+)\s+"([^"]*)"$/.exec(l))) meta.modinfo.push(`parm=${m[1]}:${m[3]}`, `parmtype=${m[1]}:${m[2]}`);
    else if ((m = /^MODULE_PARM_ARRAY\s+(\w+)\s+(\w+)\s+(\w+)\s+(\w+)\s+"([^"]*)"$/.exec(l))) {
      if (!ELEM_SIZE[m[2]!]) throw new EmuError('asm', `${name}: MODULE_PARM_ARRAY ${m[1]}: unsupported type ${m[2]}`, { op: 'build_module' });
      meta.modinfo.push(`parm=${m[1]}:${m[5]}`, `parmtype=${m[1]}:array of ${m[2]}`);
      meta.arrays.push({ name: m[1]!, elemsize: ELEM_SIZE[m[2]!]! });
      tail.push(...paramArrayLines(m[1]!, m[2]!, m[3]!, m[4]!));
    } else if ((m = /^MODULE_INIT\s+(\w+)$/.exec(l))) meta.init = m[1];
    else if ((m = /^MODULE_EXIT\s+(\w+)$/.exec(l))) meta.exit = m[1];
    else if ((m = /^KLP_SYM\s+(\w+)\s+(\w+)\s+(\d+)$/.exec(l))) meta.klpSyms.set(m[2]!, { obj: m[1]!, sympos: Number(m[3]) });
    else if ((m = /^EXTERN\s+(\w+)$/.exec(l))) meta.externs.add(m[1]!);
    else {
      out.push(raw);
      continue;
    }
    out.push('');
  }
  meta.modinfo.push(`name=${moduleNameOf(name)}`);
  return { meta, rest: [...out, ...tail].join('\n') };
}

/** Split .text into one section per function (lines between a function's .balign and its end label). */
function textSections(lines: AsmLine[], syms: SymDecl[]): { secs: ModSection[]; stray: AsmLine[] } {
  const funcs = new Map(syms.filter((s) => s.section === '.text').map((s) => [s.label, s]));
  const secs: ModSection[] = [];
  const stray: AsmLine[] = [];
  let cur: ModSection | undefined;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const lab = /^([\w.$]+):$/.exec(l.text)?.[1];
    if (!cur && lab && funcs.has(lab)) {
      const prev = stray.pop();
      cur = { name: `.text.${funcs.get(lab)!.name}`, body: prev ? [prev, l] : [l], flags: SHF_ALLOC | SHF_EXECINSTR, nobits: false, labels: [] };
      continue;
    }
    if (cur) {
      cur.body.push(l);
      if (lab === `__end__${cur.body.find((x) => funcs.has(x.text.slice(0, -1)))?.text.slice(0, -1)}`) {
        secs.push(cur);
        cur = undefined;
      }
    } else stray.push(l);
  }
  return { secs, stray };
}

/** The module's sections with their lines (definitions kept apart). */
function sectionsOf(file: string, text: string): { secs: ModSection[]; defs: string[]; syms: SymDecl[]; exports: string[] } {
  const src = parseSource(file, text, 0);
  const { defs, body: textBody } = splitDefinitions(src.lines.get('.text') ?? []);
  const { secs, stray } = textSections(textBody, src.syms);
  const code = stray.filter((l) => !/^\.balign\b/.test(l.text));
  if (code.length) throw new EmuError('asm', `${file}:${code[0]!.line}: code outside a function: ${code[0]!.text}`, { op: 'build_module' });
  const allDefs = [...defs.map((d) => d.text)];
  for (const [sec, flags, nobits] of [['.rodata', SHF_ALLOC, false], ['.data', SHF_ALLOC | SHF_WRITE, false], ['.bss', SHF_ALLOC | SHF_WRITE, true]] as const) {
    const { defs: d, body } = splitDefinitions(src.lines.get(sec) ?? []);
    allDefs.push(...d.map((x) => x.text));
    if (body.length) secs.push({ name: sec, body, flags, nobits, labels: [] });
  }
  for (const s of secs) s.labels = definedLabels(s.body);
  return { secs, defs: allDefs, syms: src.syms, exports: src.exports };
}

function assembleSection(sec: ModSection, prelude: string[], externs: string[]): { bytes: Uint8Array; relocs: DerivedReloc[] } {
  rejectAttOperands(sec.body);
  const run = (base: bigint, placed: ReadonlyMap<string, bigint>): Uint8Array => {
    const ext = [...placed].map(([n, a]) => `${n} = __chunk_base + 0x${(a - base).toString(16)}`);
    const text = [...prelude, ...ext, '__chunk_base:', ...sec.body.map((l) => l.text)].join('\n');
    try {
      return ks.asm(text, { address: base });
    } catch (e) {
      throw new EmuError('asm', `${sec.body[0]?.file ?? '?'}: ${sec.name}: ${(e as Error).message}`, { op: 'build_module' });
    }
  };
  return deriveRelocs(sec.name, run, externs, !(sec.flags & SHF_EXECINSTR));
}

/**
 * Build a module from assembly. `kernelSyms` are the names vmlinux defines
 * (references to them become undefined symbols resolved at load time).
 * @returns the .ko bytes
 */
export function buildModule(file: string, text: string, kernelSyms: ReadonlySet<string>, prelude: string[] = []): Buffer {
  const { meta, rest } = readDirectives(file, text);
  const { secs, defs, syms, exports } = sectionsOf(file, rest);
  const equates = collectEquates([...prelude, ...defs], new Map(layoutEquates()));
  for (const s of secs) s.body = s.body.map((l) => ({ ...l, text: foldEquates(l.text, equates) }));
  const owner = new Map<string, ModSection>();
  for (const s of secs) for (const l of s.labels) owner.set(l, s);
  const pre = [...equateLines(), ...prelude, ...defs];
  const offs = new Map<ModSection, Map<string, number>>();
  for (const s of secs) {
    const used = usedNames([...s.body, ...defs.map((d) => ({ text: d, file, line: 0 }))]);
    const externs = [...used].filter((n) => (owner.has(n) && owner.get(n) !== s) || ((kernelSyms.has(n) || meta.klpSyms.has(n) || meta.externs.has(n)) && !owner.has(n)));
    const r = assembleSection(s, pre, externs);
    s.bytes = r.bytes;
    s.relocs = r.relocs;
    offs.set(s, labelOffsets(s, pre, externs));
  }
  for (const a of meta.arrays) setArrayMax(file, a, secs, syms, owner, offs);
  for (const e of exports) {
    if (!syms.some((d) => d.name === e && d.global)) throw new EmuError('asm', `${file}: EXPORT_SYMBOL(${e}): no global symbol ${e}`, { op: 'build_module' });
  }
  return emitElf(file, secs, syms, meta, owner, offs, exports);
}

/** kparam_array.max = ARRAY_SIZE(array): the array symbol's size over the element size. */
function setArrayMax(file: string, a: { name: string; elemsize: number }, secs: ModSection[], syms: SymDecl[], owner: Map<string, ModSection>, offs: Map<ModSection, Map<string, number>>): void {
  const at = (n: string): { sec: ModSection; off: number; size: number } => {
    const d = syms.find((s) => s.name === n);
    const sec = d && owner.get(d.label);
    if (!d || !sec) throw new EmuError('asm', `${file}: MODULE_PARM_ARRAY ${a.name}: no data symbol ${n}`, { op: 'build_module' });
    const o = offs.get(sec)!;
    return { sec, off: o.get(d.label)!, size: o.get(`__end__${d.label}`)! - o.get(d.label)! };
  };
  const arr = at(a.name);
  const desc = at(`__param_arr_${a.name}`);
  const view = Buffer.from(desc.sec.bytes!.buffer, desc.sec.bytes!.byteOffset, desc.sec.bytes!.byteLength);
  view.writeUInt32LE(Math.floor(arr.size / a.elemsize), desc.off);
}

/** Offsets of a section's labels: assembled once more at 0 with a label table. */
function labelOffsets(sec: ModSection, prelude: string[], externs: string[]): Map<string, number> {
  const ext = externs.map((n, i) => `${n} = __chunk_base + 0x${(0x4000_0000 + i * 0x10_0000).toString(16)}`);
  const want = sec.labels;
  const text = [...prelude, ...ext, '__chunk_base:', ...sec.body.map((l) => l.text), '.balign 8, 0', ...want.map((l) => `.quad ${l}`)].join('\n');
  const out = ks.asm(text, { address: 0n });
  const view = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  const at = out.length - want.length * 8;
  return new Map(want.map((l, i) => [l, Number(view.readBigUInt64LE(at + i * 8))]));
}

interface SymTable {
  local: OutSymbol[];
  global: OutSymbol[];
}

function symIndex(t: SymTable, name: string): number {
  const li = t.local.findIndex((s) => s.name === name);
  if (li >= 0) return li + 1;
  const gi = t.global.findIndex((s) => s.name === name);
  return gi < 0 ? -1 : t.local.length + gi + 1;
}

/** FILE, section symbols, the declared functions/data, init_module/cleanup_module. */
function baseSymbols(file: string, secs: ModSection[], syms: SymDecl[], meta: ModuleMeta, owner: Map<string, ModSection>, offs: Map<ModSection, Map<string, number>>): SymTable {
  const t: SymTable = { local: [{ name: file.replace(/^.*\//, ''), value: 0n, size: 0, type: STT_FILE, bind: STB_LOCAL, shndx: 0xfff1 }], global: [] };
  secs.forEach((s, i) => t.local.push({ name: '', value: 0n, size: 0, type: STT_SECTION, bind: STB_LOCAL, shndx: i + 1 }));
  const sized = (label: string): { shndx: number; value: bigint; size: number } => {
    const sec = owner.get(label)!;
    const o = offs.get(sec)!;
    return { shndx: secs.indexOf(sec) + 1, value: BigInt(o.get(label)!), size: o.get(`__end__${label}`)! - o.get(label)! };
  };
  for (const d of syms) {
    const sym: OutSymbol = { name: d.name, ...sized(d.label), type: d.kind === 'object' ? STT_OBJECT : STT_FUNC, bind: d.global ? STB_GLOBAL : STB_LOCAL };
    (d.global ? t.global : t.local).push(sym);
  }
  for (const [alias, fn, what] of [['init_module', meta.init, 'INIT'], ['cleanup_module', meta.exit, 'EXIT']] as const) {
    if (!fn) continue;
    const d = syms.find((s) => s.name === fn);
    if (!d) throw new EmuError('asm', `${file}: MODULE_${what} ${fn}: no such function`, { op: 'build_module' });
    t.global.push({ name: alias, ...sized(d.label), type: STT_FUNC, bind: STB_GLOBAL });
  }
  return t;
}

/** A derived relocation as an ELF one: a declared symbol, a section symbol + offset, or an undefined/klp symbol. */
function toRela(r: DerivedReloc, from: ModSection, c: { secs: ModSection[]; syms: SymDecl[]; meta: ModuleMeta; owner: Map<string, ModSection>; offs: Map<ModSection, Map<string, number>>; t: SymTable }): OutRela {
  const secSym = (s: ModSection): number => 2 + c.secs.indexOf(s);
  if (r.sym === '') return { offset: BigInt(r.offset), type: r.type, sym: secSym(from), addend: r.addend };
  const own = c.owner.get(r.sym);
  if (own) {
    const d = c.syms.find((s) => s.label === r.sym);
    if (d) return { offset: BigInt(r.offset), type: r.type, sym: symIndex(c.t, d.name), addend: r.addend };
    return { offset: BigInt(r.offset), type: r.type, sym: secSym(own), addend: r.addend + BigInt(c.offs.get(own)!.get(r.sym)!) };
  }
  const k = c.meta.klpSyms.get(r.sym);
  const full = k ? `.klp.sym.${k.obj}.${r.sym},${k.sympos}` : r.sym;
  if (symIndex(c.t, full) < 0) c.t.global.push({ name: full, value: 0n, size: 0, type: STT_NOTYPE, bind: STB_GLOBAL, shndx: k ? SHN_LIVEPATCH : SHN_UNDEF });
  return { offset: BigInt(r.offset), type: r.type, sym: symIndex(c.t, full), addend: r.addend };
}

function emitElf(file: string, secs: ModSection[], syms: SymDecl[], meta: ModuleMeta, owner: Map<string, ModSection>, offs: Map<ModSection, Map<string, number>>, exports: string[]): Buffer {
  const sections: OutSection[] = secs.map((s) => ({
    name: s.name, type: s.nobits ? SHT_NOBITS : SHT_PROGBITS, flags: s.flags, align: s.flags & SHF_EXECINSTR ? 16 : 8,
    ...(s.nobits ? { size: s.bytes!.length } : { data: s.bytes! }),
  }));
  const t = baseSymbols(file, secs, syms, meta, owner, offs);
  const ctx = { secs, syms, meta, owner, offs, t };
  const relas: { name: string; target: number; list: OutRela[]; flags: number }[] = [];
  secs.forEach((s, i) => {
    const normal: OutRela[] = [];
    const klp = new Map<string, OutRela[]>();
    for (const r of s.relocs ?? []) {
      const k = !owner.has(r.sym) ? meta.klpSyms.get(r.sym) : undefined;
      const rel = toRela(r, s, ctx);
      if (k) (klp.get(k.obj) ?? klp.set(k.obj, []).get(k.obj)!).push(rel);
      else normal.push(rel);
    }
    if (normal.length) relas.push({ name: `.rela${s.name}`, target: i + 1, list: normal, flags: 0 });
    for (const [obj, list] of klp) relas.push({ name: `.klp.rela.${obj}.${s.name}`, target: i + 1, list, flags: SHF_ALLOC | SHF_RELA_LIVEPATCH });
  });
  const modinfo = Buffer.from(meta.modinfo.map((m) => `${m}\0`).join(''), 'latin1');
  sections.push({ name: '.modinfo', type: SHT_PROGBITS, flags: SHF_ALLOC, data: modinfo, align: 1 });
  // EXPORT_SYMBOL: the names, as vmlinux lists its own (__ksymtab_strings); the loader finds the values in the symtab.
  if (exports.length) {
    const names = Buffer.from([...new Set(exports)].sort().map((n) => `${n}\0`).join(''), 'latin1');
    sections.push({ name: '__ksymtab_strings', type: SHT_PROGBITS, flags: SHF_ALLOC, data: names, align: 1 });
  }
  // __mcount_loc: the entry of every traceable function, for ftrace_module_init.
  const traced = syms.filter((d) => d.traceable && d.section === '.text');
  if (traced.length) {
    sections.push({ name: '__mcount_loc', type: SHT_PROGBITS, flags: SHF_ALLOC, data: new Uint8Array(traced.length * 8), align: 8 });
    const list = traced.map((d, i) => ({ offset: BigInt(i * 8), type: R_X86_64_64, sym: symIndex(t, d.name), addend: 0n }));
    relas.push({ name: '.rela__mcount_loc', target: sections.length, list, flags: 0 });
  }
  // Global symbols must follow locals: relocation indices were computed on the final order.
  const symtabIndex = sections.length + relas.length + 1;
  const relaSecs = relas.map((r) => relaSection(r.name, r.target, r.list, symtabIndex, r.flags));
  return writeElf({ type: ET_REL, sections: [...sections, ...relaSecs], symbols: [...t.local, ...t.global] });
}
