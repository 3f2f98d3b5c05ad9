// vmlinux.ts - link the kernel sources into an ELF64 vmlinux and its System.map (the kernel's "make")

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmuError } from '../../emu/errors.ts';
import { MemoryMap } from '../abi/layout.ts';
import {
  writeElf, ET_EXEC, SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_NOBITS, SHT_PROGBITS, SHN_ABS,
  STB_GLOBAL, STB_LOCAL, STT_FILE, STT_FUNC, STT_NOTYPE, STT_OBJECT,
} from '../elf/index.ts';
import type { OutSection, OutSymbol } from '../elf/index.ts';
import { assembleChunk, definedLabels, splitDefinitions, usedNames } from './assemble.ts';
import { collectEquates, equateLines, foldEquates, layoutEquates } from './equates.ts';
import { parseSource, type AsmLine, type SectionName, type SourceFile, type SymDecl } from './sourceFile.ts';

export interface BuildResult {
  elf: Buffer;
  systemMap: string;
  sources: SourceFile[];
}

interface OutSec { name: string; start: string; end: string; flags: number; nobits?: boolean; letter: string }

/** Output sections in address order, each delimited by two labels of its unit. */
const USER_OUT: OutSec[] = [
  { name: '.usertext', start: '__sec_usertext', end: '__sec_usertext_end', flags: SHF_ALLOC | SHF_EXECINSTR, letter: 't' },
  { name: '.userdata', start: '__sec_userdata', end: '__sec_userdata_end', flags: SHF_ALLOC | SHF_WRITE, letter: 'd' },
];
const KERNEL_OUT: OutSec[] = [
  { name: '.text', start: '_text', end: '_etext', flags: SHF_ALLOC | SHF_EXECINSTR, letter: 't' },
  { name: '.rodata', start: '__start_rodata', end: '__end_rodata', flags: SHF_ALLOC, letter: 'r' },
  { name: '__mcount_loc', start: '__start_mcount_loc', end: '__stop_mcount_loc', flags: SHF_ALLOC, letter: 'r' },
  { name: '__ksymtab_strings', start: '__start___ksymtab_strings', end: '__stop___ksymtab_strings', flags: SHF_ALLOC, letter: 'r' },
  { name: '.data', start: '_sdata', end: '_edata', flags: SHF_ALLOC | SHF_WRITE, letter: 'd' },
  { name: '.bss', start: '__bss_start', end: '__bss_stop', flags: SHF_ALLOC | SHF_WRITE, nobits: true, letter: 'b' },
];

const gen = (text: string): AsmLine => ({ text, file: '<link>', line: 0 });
const alignUp = (v: bigint, a: number): bigint => ((v + BigInt(a) - 1n) / BigInt(a)) * BigInt(a);

/** One file's lines of one section: the unit keystone assembles (see assemble.ts). */
interface Chunk {
  out: OutSec;
  file: string;
  defs: string[];
  body: AsmLine[];
  align: number;
  labels: string[];
  size: number;
  addr: bigint;
  bytes: Uint8Array;
}

interface Placed { out: OutSec; addr: bigint; size: number; data: Uint8Array }

/** The largest `.balign` of a chunk (its start must be at least that aligned). */
function chunkAlign(body: AsmLine[], equates: ReadonlyMap<string, bigint>, min: number): number {
  let a = min;
  for (const l of body) {
    const m = /^\.balign\s+([^,]+)/.exec(l.text);
    if (!m) continue;
    const expr = m[1]!.trim();
    const v = /^(0x[0-9a-f]+|\d+)$/i.test(expr) ? Number(expr) : Number(equates.get(expr) ?? 0n);
    if (!v || v & (v - 1)) throw new EmuError('asm', `${l.file}:${l.line}: .balign needs a power of two (a number or a layout.ts equate)`, { op: 'build_kernel' });
    a = Math.max(a, v);
  }
  return a;
}

const SECTION_OF: Record<string, SectionName> = { '.usertext': '.usertext', '.userdata': '.userdata', '.text': '.text', '.rodata': '.rodata', '.data': '.data', '.bss': '.bss' };

/** Lines per chunk of a generated section (__mcount_loc, __ksymtab_strings). */
const GEN_CHUNK = 256;

/** Split every source into chunks, plus the generated __mcount_loc and __ksymtab_strings. */
function makeChunks(srcs: SourceFile[], outs: OutSec[], syms: SymDecl[], equates: Map<string, bigint>): { chunks: Chunk[]; globalDefs: string[] } {
  const globalDefs: string[] = [];
  const perFile = srcs.map((f) => {
    const all = [...f.lines.values()].flat();
    const { defs } = splitDefinitions(all);
    if (f.file.endsWith('.inc')) globalDefs.push(...defs.map((d) => d.text));
    return { f, defs: f.file.endsWith('.inc') ? [] : defs.map((d) => d.text) };
  });
  const chunks: Chunk[] = [];
  const add = (out: OutSec, file: string, defs: string[], body: AsmLine[]): void => {
    if (body.length === 0) return;
    const min = out.flags & SHF_EXECINSTR ? 16 : out.name === '__ksymtab_strings' ? 1 : 8;
    chunks.push({ out, file, defs, body, align: chunkAlign(body, equates, min), labels: definedLabels(body), size: 0, addr: 0n, bytes: new Uint8Array(0) });
  };
  // Generated sections go in chunks of GEN_CHUNK lines: keystone-wasm traps on one
  // chunk of ~1.2k `.quad label` lines (found by bench/ftrace with generated kernels).
  const addGenerated = (out: OutSec, file: string, body: AsmLine[]): void => {
    for (let i = 0; i < body.length; i += GEN_CHUNK) add(out, file, [], body.slice(i, i + GEN_CHUNK));
  };
  for (const out of outs) {
    if (out.name === '__mcount_loc') addGenerated(out, '<mcount>', syms.filter((s) => s.traceable).map((s) => gen(`.quad ${s.label}`)));
    else if (out.name === '__ksymtab_strings') addGenerated(out, '<ksymtab>', [...new Set(srcs.flatMap((s) => s.exports))].sort().map((n) => gen(`.asciz "${n}"`)));
    else for (const { f, defs } of perFile) add(out, f.file, defs, splitDefinitions(f.lines.get(SECTION_OF[out.name]!) ?? []).body);
  }
  return { chunks, globalDefs };
}

/** Every label of the unit; a plain label defined by two files is an error (chunks would not see the clash). */
function uniqueLabels(chunks: Chunk[]): Set<string> {
  const where = new Map<string, Chunk>();
  for (const c of chunks) {
    for (const l of c.labels) {
      const prev = where.get(l);
      if (prev) throw new EmuError('asm', `${c.file}: label ${l} already defined in ${prev.file}`, { op: 'build_kernel' });
      where.set(l, c);
    }
  }
  return new Set(where.keys());
}

/** Replace equates inside memory operands by numbers (keystone's `[reg - SYM]` bug, equates.ts). */
function foldChunks(chunks: Chunk[], globalDefs: string[], known: Map<string, bigint>): void {
  const global = collectEquates(globalDefs, known);
  for (const c of chunks) {
    const eq = collectEquates(c.defs, global);
    c.body = c.body.map((l) => ({ ...l, text: foldEquates(l.text, eq) }));
    c.defs = c.defs.map((d) => (/^[A-Za-z_][\w.$]*\s*=/.test(d) ? d : foldEquates(d, eq)));
  }
}

/** Externals a chunk refers to: other chunks' labels, at `addrOf`. */
function externsOf(c: Chunk, labelSet: ReadonlySet<string>, addrOf: (l: string) => bigint): Map<string, bigint> {
  const own = new Set(c.labels);
  const ext = new Map<string, bigint>();
  // Macro bodies (file defs) may name symbols too (IDTENTRY_BODY calls irqentry_exit).
  for (const id of usedNames([...c.body, ...c.defs.map(gen)])) if (labelSet.has(id) && !own.has(id)) ext.set(id, addrOf(id));
  return ext;
}

/**
 * Two passes: assemble every chunk once to learn its size and label offsets
 * (externals placed far away, so every reference gets its long form), lay the
 * chunks out, then assemble each at its final address with the real externals.
 */
function link(srcs: SourceFile[], outs: OutSec[], base: bigint, syms: SymDecl[], absolute: Map<string, bigint>): { placed: Placed[]; labels: Map<string, bigint> } {
  const equates = new Map([...layoutEquates(), ...absolute]);
  const { chunks, globalDefs } = makeChunks(srcs, outs, syms, equates);
  const prelude = (c: Chunk): string[] => [...equateLines(absolute), ...globalDefs, ...c.defs];
  foldChunks(chunks, globalDefs, new Map([...layoutEquates(), ...absolute]));
  const labelSet = uniqueLabels(chunks);
  const offsets = new Map<string, { c: Chunk; off: number }>();
  const far = base + 0x4000_0000n;
  for (const c of chunks) {
    const res = assembleChunk(prelude(c), c.body, base, externsOf(c, labelSet, () => far), c.labels);
    c.size = res.bytes.length;
    for (const [l, off] of res.offsets) offsets.set(l, { c, off });
  }
  let cursor = base;
  const placed: Placed[] = [];
  for (const out of outs) {
    const mine = chunks.filter((c) => c.out === out);
    cursor = alignUp(cursor, out.name === '.text' || out.name === '.usertext' || out.name === '__mcount_loc' || out.name === '__ksymtab_strings' ? (out.name === '__mcount_loc' ? 8 : 1) : 4096);
    const start = cursor;
    for (const c of mine) {
      c.addr = alignUp(cursor, c.align);
      cursor = c.addr + BigInt(c.size);
    }
    placed.push({ out, addr: start, size: Number(cursor - start), data: new Uint8Array(0) });
  }
  const labels = new Map<string, bigint>();
  for (const [l, { c, off }] of offsets) labels.set(l, c.addr + BigInt(off));
  for (const c of chunks) {
    const res = assembleChunk(prelude(c), c.body, c.addr, externsOf(c, labelSet, (l) => labels.get(l)!), []);
    if (res.bytes.length !== c.size) throw new EmuError('asm', `${c.file} ${c.out.name}: size changed between passes (${c.size} -> ${res.bytes.length})`, { op: 'build_kernel' });
    c.bytes = res.bytes;
  }
  for (const p of placed) p.data = fill(p, chunks.filter((c) => c.out === p.out));
  for (const p of placed) {
    labels.set(p.out.start, p.addr);
    labels.set(p.out.end, p.addr + BigInt(p.size));
  }
  return { placed, labels };
}

/** A section's bytes: its chunks at their addresses, int3 between text chunks, zeros elsewhere. */
function fill(p: Placed, chunks: Chunk[]): Uint8Array {
  const data = new Uint8Array(p.size).fill(p.out.flags & SHF_EXECINSTR ? 0xcc : 0);
  for (const c of chunks) data.set(c.bytes, Number(c.addr - p.addr));
  if (p.out.nobits && data.some((b) => b !== 0)) throw new EmuError('asm', '.bss holds non-zero data (use .zero/.skip)', { op: 'build_kernel' });
  return p.out.nobits ? new Uint8Array(0) : data;
}

function checkDecls(srcs: SourceFile[]): SymDecl[] {
  const syms = srcs.flatMap((s) => s.syms);
  const seen = new Map<string, SymDecl>();
  for (const s of syms) {
    const user = s.section === '.usertext' || s.section === '.userdata';
    if (user && s.traceable) throw new EmuError('asm', `${s.file}:${s.line}: ${s.name}: user code is not traceable (use SYM_FUNC_START_NOTRACE)`, { op: 'build_kernel' });
    if (!s.global) continue;
    const prev = seen.get(s.name);
    if (prev) throw new EmuError('asm', `${s.file}:${s.line}: ${s.name} already defined at ${prev.file}:${prev.line}`, { op: 'build_kernel' });
    seen.set(s.name, s);
  }
  const exported = srcs.flatMap((s) => s.exports.map((e) => ({ e, file: s.file })));
  for (const { e, file } of exported) if (!seen.has(e)) throw new EmuError('asm', `${file}: EXPORT_SYMBOL(${e}): no global symbol ${e}`, { op: 'build_kernel' });
  return syms;
}

function symbolsOf(srcs: SourceFile[], placed: Placed[], labels: Map<string, bigint>): OutSymbol[] {
  const secIndex = (addr: bigint, size: number): number => {
    const i = placed.findIndex((p) => addr >= p.addr && addr + BigInt(size) <= p.addr + BigInt(Math.max(p.size, 1)));
    if (i < 0) throw new EmuError('asm', `symbol at 0x${addr.toString(16)} is outside every section`, { op: 'build_kernel', address: addr });
    return i + 1;
  };
  const one = (s: SymDecl): OutSymbol => {
    const value = labels.get(s.label)!;
    const size = Number(labels.get(`__end__${s.label}`)! - value);
    const type = s.kind === 'object' ? STT_OBJECT : s.kind === 'code' ? STT_NOTYPE : STT_FUNC;
    return { name: s.name, value, size, type, bind: s.global ? STB_GLOBAL : STB_LOCAL, shndx: secIndex(value, size) };
  };
  const locals: OutSymbol[] = [];
  for (const f of srcs) {
    const ls = f.syms.filter((s) => !s.global);
    if (!ls.length) continue;
    locals.push({ name: f.file, value: 0n, size: 0, type: STT_FILE, bind: STB_LOCAL, shndx: SHN_ABS }, ...ls.map(one));
  }
  const globals = srcs.flatMap((f) => f.syms.filter((s) => s.global).map(one));
  const markers = placed.flatMap((p) => [p.out.start, p.out.end].map((n) => ({
    name: n, value: labels.get(n)!, size: 0, type: STT_NOTYPE, bind: STB_GLOBAL, shndx: secIndex(labels.get(n)!, 0),
  })));
  return [...locals, ...globals, ...markers.filter((m) => !m.name.startsWith('__sec_'))];
}

/** `nm -n` style System.map: address, type letter (upper case = global), name. */
function systemMap(syms: OutSymbol[], placed: Placed[]): string {
  const rows = syms.filter((s) => s.type !== STT_FILE).map((s) => {
    const letter = placed[s.shndx - 1]!.out.letter;
    return { addr: s.value, line: `${s.value.toString(16).padStart(16, '0')} ${s.bind === STB_LOCAL ? letter : letter.toUpperCase()} ${s.name}` };
  });
  rows.sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : a.line < b.line ? -1 : 1));
  return rows.map((r) => r.line).join('\n') + '\n';
}

/** Parse, assemble and link sources given as (file name, text) pairs, in link order. */
export function linkKernel(files: readonly { name: string; text: string }[]): BuildResult {
  const srcs = files.map((f, i) => parseSource(f.name, f.text, i));
  const syms = checkDecls(srcs);
  const isUser = (s: SymDecl): boolean => s.section === '.usertext' || s.section === '.userdata';
  const userSyms = syms.filter(isUser);
  const kernSyms = syms.filter((s) => !isUser(s));
  const user = link(srcs, USER_OUT, MemoryMap.USER_BASE, userSyms, new Map());
  // Kernel code uses user entry points as immediates: absolute equates, the user part is final.
  const userEquates = new Map(userSyms.map((s) => [s.label, user.labels.get(s.label)!]));
  const kern = link(srcs, KERNEL_OUT, MemoryMap.KERNEL_TEXT, kernSyms, userEquates);
  const placed = [...user.placed, ...kern.placed];
  const labels = new Map([...user.labels, ...kern.labels]);
  for (const s of syms) if (!labels.has(s.label) || !labels.has(`__end__${s.label}`)) throw new EmuError('asm', `${s.file}:${s.line}: ${s.name} was not placed`, { op: 'build_kernel' });
  const symbols = symbolsOf(srcs, placed, labels);
  const sections: OutSection[] = placed.map((p) => ({
    name: p.out.name, type: p.out.nobits ? SHT_NOBITS : SHT_PROGBITS, flags: p.out.flags, addr: p.addr,
    ...(p.out.nobits ? { size: p.size } : { data: p.data }), align: p.out.name === '__ksymtab_strings' ? 1 : 8,
  }));
  const entry = labels.get('startup_64') ?? MemoryMap.KERNEL_TEXT;
  return { elf: writeElf({ type: ET_EXEC, entry, sections, symbols }), systemMap: systemMap(symbols, placed), sources: srcs };
}

/** `*.inc` (macros, first: they must precede every use) then every `*.S` of `dir`, each in name order (the link order). */
export function readSources(dir: string): { name: string; text: string }[] {
  const names = readdirSync(dir).sort();
  const pick = (ext: string): string[] => names.filter((f) => f.endsWith(ext));
  return [...pick('.inc'), ...pick('.S')].map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
}
