// sourceFile.ts - read one kernel-image/*.S file: sections, SYM_* annotations, file-local names

import { EmuError } from '../../emu/errors.ts';

/** The sections a kernel source may use, in link order within their unit. */
export const KERNEL_SECTIONS = ['.text', '.rodata', '.data', '.bss'] as const;
export const USER_SECTIONS = ['.usertext', '.userdata'] as const;
export type SectionName = (typeof KERNEL_SECTIONS)[number] | (typeof USER_SECTIONS)[number];
const ALL_SECTIONS: readonly string[] = [...KERNEL_SECTIONS, ...USER_SECTIONS];

/**
 * What a SYM_* annotation declared. `func` is a C-ABI function (frame pointer
 * rules apply; traceable ones carry the ftrace nop), `code` is SYM_CODE (entry
 * stubs, no C ABI, STT_NOTYPE like the kernel), `object` is SYM_DATA.
 */
export interface SymDecl {
  name: string;
  /** Label used in the assembly unit (file-local names get a per-file suffix). */
  label: string;
  kind: 'func' | 'code' | 'object';
  global: boolean;
  traceable: boolean;
  section: SectionName;
  file: string;
  line: number;
}

/** One line of assembly after preprocessing, with where it came from. */
export interface AsmLine {
  text: string;
  file: string;
  line: number;
}

export interface SourceFile {
  file: string;
  lines: Map<SectionName, AsmLine[]>;
  syms: SymDecl[];
  exports: string[];
}

const IDENT = /(?<![A-Za-z0-9_.$])[A-Za-z_.$][A-Za-z0-9_.$]*/g;

function fail(file: string, line: number, msg: string): never {
  throw new EmuError('asm', `${file}:${line}: ${msg}`, { op: 'build_kernel' });
}

/** Drop a `#` comment that is not inside a string or character literal. */
export function stripComment(s: string): string {
  let inStr = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && inStr) i++;
    else if (c === '"') inStr = !inStr;
    else if (c === "'" && !inStr && s[i + 2] === "'") i += 2;
    else if (c === '#' && !inStr) return s.slice(0, i);
  }
  return s;
}

/** Rename identifiers outside string literals through `map`. */
export function renameIdents(s: string, map: ReadonlyMap<string, string>): string {
  if (map.size === 0) return s;
  const parts = s.split(/("(?:[^"\\]|\\.)*")/);
  return parts.map((p, i) => (i % 2 ? p : p.replace(IDENT, (id) => map.get(id) ?? id))).join('');
}

const START = /^(SYM_FUNC_START|SYM_FUNC_START_LOCAL|SYM_FUNC_START_NOTRACE|SYM_FUNC_START_LOCAL_NOTRACE|SYM_CODE_START|SYM_CODE_START_LOCAL|SYM_DATA_START|SYM_DATA_START_LOCAL)\s+([A-Za-z_][A-Za-z0-9_]*)\s*$/;
const END = /^(SYM_FUNC_END|SYM_CODE_END|SYM_DATA_END)\s+([A-Za-z_][A-Za-z0-9_]*)\s*$/;

function declOf(kw: string, name: string, section: SectionName, file: string, line: number): SymDecl {
  const kind = kw.startsWith('SYM_DATA') ? 'object' : kw.startsWith('SYM_CODE') ? 'code' : 'func';
  const global = !kw.includes('LOCAL');
  const traceable = kind === 'func' && !kw.endsWith('NOTRACE');
  return { name, label: name, kind, global, traceable, section, file, line };
}

/** First pass: which names this file declares file-local (they get renamed). */
function localNames(text: string, fileIndex: number): Map<string, string> {
  const map = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const l = stripComment(raw).trim();
    const m = START.exec(l);
    if (m && m[1]!.includes('LOCAL')) map.set(m[2]!, `${m[2]}__F${fileIndex}`);
    for (const id of l.match(/\.L[A-Za-z0-9_$]+/g) ?? []) map.set(id, `${id}__F${fileIndex}`);
  }
  return map;
}

/**
 * Parse one source. Annotations become labels (plus the ftrace nop for
 * traceable functions, and an end label for the symbol size); file-local
 * symbols and `.L` labels are renamed so the whole kernel can be one unit.
 */
export function parseSource(file: string, text: string, fileIndex: number): SourceFile {
  const rename = localNames(text, fileIndex);
  const out: SourceFile = { file, lines: new Map(), syms: [], exports: [] };
  let section: SectionName = '.text';
  let open: SymDecl | undefined;
  const emit = (t: string, line: number): void => {
    const list = out.lines.get(section) ?? [];
    list.push({ text: t, file, line });
    out.lines.set(section, list);
  };
  text.split('\n').forEach((raw, i) => {
    const n = i + 1;
    const l = renameIdents(stripComment(raw), rename).trim();
    if (!l) return;
    const sec = /^\.section\s+(\S+)/.exec(l) ?? /^(\.text|\.data|\.bss|\.rodata)$/.exec(l);
    if (sec) {
      if (!ALL_SECTIONS.includes(sec[1]!)) fail(file, n, `unknown section ${sec[1]}`);
      if (open) fail(file, n, `.section inside ${open.name}`);
      section = sec[1] as SectionName;
      return;
    }
    const exp = /^EXPORT_SYMBOL(?:_GPL)?\s+([A-Za-z_][A-Za-z0-9_]*)$/.exec(l);
    if (exp) return void out.exports.push(exp[1]!);
    const st = START.exec(stripComment(raw).trim());
    if (st) {
      if (open) fail(file, n, `${st[2]} starts inside ${open.name}`);
      open = declOf(st[1]!, st[2]!, section, file, n);
      open.label = rename.get(open.name) ?? open.name;
      out.syms.push(open);
      const code = section === '.text' || section === '.usertext';
      if (open.kind !== 'object' && !code) fail(file, n, `${open.name}: function outside a text section`);
      emit(code ? '.balign 16, 0xcc' : '.balign 8, 0', n);
      emit(`${open.label}:`, n);
      if (open.traceable) emit('.byte 0x0f, 0x1f, 0x44, 0x00, 0x00', n);
      return;
    }
    const en = END.exec(stripComment(raw).trim());
    if (en) {
      if (!open || open.name !== en[2]) fail(file, n, `${en[1]} ${en[2]} without a matching start`);
      emit(`__end__${open.label}:`, n);
      open = undefined;
      return;
    }
    emit(l, n);
  });
  if (open) fail(file, open.line, `${open.name} has no end annotation`);
  return out;
}
