// assemble.ts - keystone-wasm as the kernel's assembler: one chunk at a time, labels, located errors
//
// Keystone (2023 wasm build) traps with "memory access out of bounds" once a
// single assembly holds a few thousand forward references, so the linker
// (vmlinux.ts) assembles each file's section as its own chunk and resolves
// references between chunks itself: a symbol of another chunk is defined as
// `name = __chunk_base + (target - chunk address)`, a section-relative
// expression, so RIP-relative operands, calls and `.quad` all come out right.

import { EmuError } from '../../emu/errors.ts';
import type { AsmLine } from './sourceFile.ts';
import { Keystone, Const } from 'keystone-wasm';
import { keystoneReady } from '../../emu/keystone.ts';

await keystoneReady();
const ks = new Keystone(Const.KS_ARCH_X86, Const.KS_MODE_64);

export interface AssembledChunk {
  /** The chunk's bytes (without the label table). */
  bytes: Uint8Array;
  /** Offset of every label asked for, from the chunk start. */
  offsets: Map<string, number>;
}

const LABEL = /^([A-Za-z_.$][\w.$]*):/;

/** Every `name:` label defined by these lines. */
export function definedLabels(lines: readonly AsmLine[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    const m = LABEL.exec(l.text);
    if (m) out.push(m[1]!);
  }
  return out;
}

/** Identifiers used by these lines (candidates for external references). */
export function usedNames(lines: readonly AsmLine[]): Set<string> {
  const out = new Set<string>();
  for (const l of lines) {
    const code = l.text.replace(/"(?:[^"\\]|\\.)*"/g, '');
    for (const id of code.match(/[A-Za-z_.$][\w.$]*/g) ?? []) out.add(id);
  }
  return out;
}

/** Lines that define things rather than emit code: equates and whole .macro blocks. */
export function splitDefinitions(lines: readonly AsmLine[]): { defs: AsmLine[]; body: AsmLine[] } {
  const defs: AsmLine[] = [];
  const body: AsmLine[] = [];
  let inMacro = false;
  for (const l of lines) {
    if (/^\.macro\b/.test(l.text)) inMacro = true;
    if (inMacro || /^[A-Za-z_][\w.$]*\s*=/.test(l.text)) defs.push(l);
    else body.push(l);
    if (/^\.endm\b/.test(l.text)) inMacro = false;
  }
  return { defs, body };
}

const hex = (v: bigint): string => (v < 0n ? `- 0x${(-v).toString(16)}` : `+ 0x${v.toString(16)}`);

/** Equates placing external symbols relative to the chunk start (see the header). */
function externLines(base: bigint, externs: ReadonlyMap<string, bigint>): string[] {
  return [...externs].map(([name, addr]) => `${name} = __chunk_base ${hex(addr - base)}`);
}

/** Find the line that fails alone (labels and externs as dummies) and name its file and line. */
function locateError(head: string, body: readonly AsmLine[], base: bigint, err: unknown): never {
  const dummies = definedLabels(body).map((l) => `${l} = __chunk_base`).join('\n');
  for (const l of body) {
    if (LABEL.test(l.text) || /^\.(balign|align|p2align)\b/.test(l.text)) continue;
    try {
      ks.asm(`${head}\n__chunk_base:\n${dummies}\n${l.text}`, { address: base });
    } catch (e) {
      const why = String((e as Error).message ?? e).replace(/^Failed to assemble, error: /, '');
      throw new EmuError('asm', `${l.file}:${l.line}: ${why}: ${l.text}`, { op: 'keystone' });
    }
  }
  const where = body[0] ? `${body[0].file}` : '<empty>';
  throw new EmuError('asm', `${where}: keystone: ${String((err as Error).message ?? err)} (no single line fails alone)`, { op: 'keystone' });
}

/**
 * Keystone drops a statement with an AT&T operand (`%rax`) that is not the
 * first of its input, and reports success: the bytes silently go missing. So
 * refuse `%name` outside string and character literals before assembling.
 */
export function rejectAttOperands(body: readonly AsmLine[]): void {
  for (const l of body) {
    const code = l.text.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)'/g, '""').replace(/#.*$/, '');
    if (/%[A-Za-z_]/.test(code)) {
      throw new EmuError('asm', `${l.file}:${l.line}: AT&T operand in Intel syntax (keystone would drop this line without an error): ${l.text}`, { op: 'keystone' });
    }
  }
}

/**
 * Assemble one chunk at `base`. `prelude` holds equates and macros; `externs`
 * the addresses of symbols defined elsewhere; `want` the chunk's own labels
 * whose offsets are recovered from a `.quad` table appended after the code.
 * @throws EmuError kind 'asm' naming the file and line that does not assemble
 */
export function assembleChunk(prelude: readonly string[], body: readonly AsmLine[], base: bigint, externs: ReadonlyMap<string, bigint>, want: readonly string[]): AssembledChunk {
  rejectAttOperands(body);
  const head = [...prelude, ...externLines(base, externs)].join('\n');
  const table = ['__chunk_end:', '.balign 8, 0', ...['__chunk_end', ...want].map((l) => `.quad ${l}`)];
  const text = `${head}\n__chunk_base:\n${body.map((l) => l.text).join('\n')}\n${table.join('\n')}`;
  let out: Uint8Array;
  try {
    out = ks.asm(text, { address: base });
  } catch (e) {
    locateError(head, body, base, e);
  }
  const n = want.length + 1;
  if (out.length < n * 8) throw new EmuError('asm', `keystone returned ${out.length} bytes`, { op: 'keystone', address: base });
  const view = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  const at = out.length - n * 8;
  const end = Number(view.readBigUInt64LE(at) - base);
  const offsets = new Map<string, number>();
  want.forEach((l, i) => offsets.set(l, Number(view.readBigUInt64LE(at + (i + 1) * 8) - base)));
  return { bytes: out.subarray(0, end), offsets };
}
