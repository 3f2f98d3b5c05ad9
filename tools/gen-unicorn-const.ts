// gen-unicorn-const.ts - regenerate emu/raw/x86Const.ts from the installed Unicorn headers
//
// Usage: npx tsx tools/gen-unicorn-const.ts [--check] [--include DIR]
// Needs libunicorn-dev (/usr/include/unicorn/*.h). Like Unicorn's own bindings/const_generator.py,
// it evaluates the C enums (implicit values included) and the #define composites, then writes the
// subset klpemu uses. --check compares instead of writing and exits 1 on a difference.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'emu', 'raw', 'x86Const.ts');

/** Registers the engine needs, by their name after the UC_X86_REG_ prefix. */
const X86_REGS = [
  'RAX', 'RBX', 'RCX', 'RDX', 'RSI', 'RDI', 'RBP', 'RSP',
  'R8', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15',
  'RIP', 'RFLAGS', 'CS', 'SS', 'DS', 'ES', 'FS', 'GS', 'FS_BASE', 'GS_BASE',
  'CR0', 'CR2', 'CR3', 'CR4', 'IDTR', 'GDTR', 'LDTR', 'TR', 'MSR',
];

/** Output sections: title, and the symbols (or prefixes ending in `_`) it contains. */
const SECTIONS: ReadonlyArray<[string, string[]]> = [
  ['Architecture and mode (uc_arch, uc_mode)', ['UC_ARCH_X86', 'UC_MODE_64']],
  ['Status codes (uc_err)', ['UC_ERR_']],
  ['Hook types (uc_hook_type and the UC_HOOK_MEM_* composites)', ['UC_HOOK_']],
  ['Memory access kinds reported to memory hooks (uc_mem_type)', ['UC_MEM_']],
  ['x86 register ids (uc_x86_reg); EFER has no id in 2.0.1, it is MSR 0xc0000080',
    X86_REGS.map((r) => `UC_X86_REG_${r}`)],
  ['x86 instruction ids for UC_HOOK_INSN (uc_x86_insn)',
    ['UC_X86_INS_SYSCALL', 'UC_X86_INS_OUT', 'UC_X86_INS_IN']],
  ['uc_ctl: io bits and control types (uc_control_type)',
    ['UC_CTL_IO_NONE', 'UC_CTL_IO_WRITE', 'UC_CTL_IO_READ', 'UC_CTL_TB_REMOVE_CACHE', 'UC_CTL_TB_FLUSH']],
];

/** Strip C comments. */
function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ');
}

/** Evaluate a C integer expression over already-known symbols (only + | << ( ) and literals). */
function evalExpr(expr: string, known: Map<string, number>): number | undefined {
  let bad = false;
  const js = expr.replace(/\b[A-Za-z_]\w*\b/g, (id) => {
    const v = known.get(id);
    if (v === undefined) bad = true;
    return String(v);
  }).replace(/\b(0x[0-9a-fA-F]+|\d+)[uUlL]*\b/g, '$1');
  if (bad || !/^[\s\dxa-fA-F+|<()-]*$/.test(js)) return undefined;
  return Number(new Function(`return (${js});`)());
}

/** Collect every enum member of a header into `known`, counting implicit values like C does. */
function collectEnums(src: string, known: Map<string, number>): void {
  for (const m of src.matchAll(/typedef\s+enum\s+\w*\s*\{([\s\S]*?)\}/g)) {
    let next = 0;
    for (const raw of m[1].split(',')) {
      const entry = raw.trim();
      if (!entry) continue;
      const [name, expr] = entry.split('=').map((s) => s.trim());
      const value = expr === undefined ? next : evalExpr(expr, known);
      if (value === undefined) throw new Error(`cannot evaluate ${name} = ${expr}`);
      known.set(name, value);
      next = value + 1;
    }
  }
}

/** Collect simple numeric/composite `#define NAME expr` lines (continuations joined). */
function collectDefines(src: string, known: Map<string, number>): void {
  const joined = src.replace(/\\\n/g, ' ');
  for (const m of joined.matchAll(/^#define\s+(UC_\w+)\s+([^\n]+)$/gm)) {
    const value = evalExpr(m[2], known);
    if (value !== undefined) known.set(m[1], value);
  }
}

/** Symbols in `known` selected by a section's names/prefixes, in header order. */
function select(known: Map<string, number>, wanted: string[]): string[] {
  const names = [...known.keys()];
  return wanted.flatMap((w) => {
    if (!w.endsWith('_')) {
      if (!known.has(w)) throw new Error(`symbol ${w} not found in headers`);
      return [w];
    }
    return names.filter((n) => n.startsWith(w) && !/_ENDING$|_MAX$/.test(n));
  });
}

/** The encoded uc_ctl control word, as the UC_CTL(type, nr, rw) macro builds it. */
function ucCtl(type: number, nr: number, rw: number): number {
  return (type | (nr << 26) | (rw << 30)) >>> 0;
}

/** Render the whole generated file. */
function render(known: Map<string, number>): string {
  const ver = ['UC_API_MAJOR', 'UC_API_MINOR', 'UC_API_PATCH'].map((k) => known.get(k)).join('.');
  const out = [
    `// x86Const.ts - Unicorn constants, generated from unicorn ${ver} headers, do not edit`,
    '// Regenerate with: npx tsx tools/gen-unicorn-const.ts (needs libunicorn-dev)',
    '',
  ];
  for (const [title, wanted] of SECTIONS) {
    out.push(`// ${title}`);
    for (const name of select(known, wanted)) out.push(`export const ${name} = ${hex(name, known.get(name)!)};`);
    out.push('');
  }
  const io = known.get('UC_CTL_IO_WRITE')!;
  out.push('// uc_ctl control words, UC_CTL_WRITE(type, nr) = type | nr << 26 | UC_CTL_IO_WRITE << 30');
  out.push(`export const UC_CTL_WRITE_TB_REMOVE_CACHE = ${hexNum(ucCtl(known.get('UC_CTL_TB_REMOVE_CACHE')!, 2, io))};`);
  out.push(`export const UC_CTL_WRITE_TB_FLUSH = ${hexNum(ucCtl(known.get('UC_CTL_TB_FLUSH')!, 0, io))};`);
  return out.join('\n') + '\n';
}

function hexNum(v: number): string {
  return `0x${v.toString(16)}`;
}

function hex(name: string, v: number): string {
  return /^UC_(HOOK|CTL_WRITE)/.test(name) && v > 9 ? hexNum(v) : String(v);
}

/** Read the headers and build the file text. @throws Error when a header is missing. */
export function generate(includeDir = '/usr/include/unicorn'): string {
  const known = new Map<string, number>();
  for (const f of ['unicorn.h', 'x86.h']) {
    const path = join(includeDir, f);
    if (!existsSync(path)) throw new Error(`${path} not found — install it with: apt-get install libunicorn-dev`);
    const src = stripComments(readFileSync(path, 'utf8'));
    collectEnums(src, known);
    collectDefines(src, known);
  }
  return render(known);
}

/** CLI entry. @returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const inc = argv.includes('--include') ? argv[argv.indexOf('--include') + 1] : undefined;
  let text: string;
  try {
    text = generate(inc);
  } catch (e) {
    console.error(`gen-unicorn-const: ${(e as Error).message}`);
    return 1;
  }
  if (argv.includes('--check')) {
    const same = existsSync(OUT) && readFileSync(OUT, 'utf8') === text;
    console.log(same ? `${OUT} is up to date` : `${OUT} differs from the headers`);
    return same ? 0 : 1;
  }
  writeFileSync(OUT, text);
  console.log(`wrote ${OUT}`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv.slice(2));
}
