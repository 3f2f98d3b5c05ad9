// insn.ts - the bytes of a patch: hex in and out, decoding, rel32 call/jmp encoding and targets

import { FTRACE_NOP, MCOUNT_INSN_SIZE, Opcode } from '../abi/layout.ts';
import { disassemble, formatInsn, type Insn } from '../asm/disasm.ts';
import { ValidateInputError } from './types.ts';

export { FTRACE_NOP, MCOUNT_INSN_SIZE };

const U64 = 1n << 64n;

/** Parse `0f 1f 44 00 00`, `0f:1f:44:00:00`, `0x0f1f440000` or `0f1f440000`. */
export function parseHex(text: string, what: string): Uint8Array {
  const t = text.trim().replace(/^0x/i, '').replace(/[\s:,]+/g, '');
  if (t.length === 0 || t.length % 2 || !/^[0-9a-f]+$/i.test(t)) throw new ValidateInputError(`${what}: malformed hex '${text}'`);
  return Uint8Array.from(Buffer.from(t, 'hex'));
}

/** `0f 1f 44 00 00` */
export const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

export const sameBytes = (a: Uint8Array | undefined, b: Uint8Array): boolean => !!a && a.length === b.length && a.every((v, i) => v === b[i]);

/** Exactly the kernel's 5-byte ftrace nop (x86_nops[5]). */
export const isFtraceNop = (b: Uint8Array | undefined): boolean => sameBytes(b, FTRACE_NOP);

/** Decode bytes placed at `addr`; `complete` when the instructions cover every byte. */
export function decode(bytes: Uint8Array, addr: bigint): { insns: Insn[]; complete: boolean } {
  const insns = disassemble(bytes, addr);
  return { insns, complete: insns.reduce((n, i) => n + i.size, 0) === bytes.length };
}

/** `0f 18 24 00 55 = nop dword ptr [rax + rax] (4 bytes); push rbp (1 byte)` */
export function describeBytes(bytes: Uint8Array, addr: bigint): string {
  const { insns, complete } = decode(bytes, addr);
  const parts = insns.map((i) => `${formatInsn(i)} (${i.size} byte${i.size === 1 ? '' : 's'})`);
  const used = insns.reduce((n, i) => n + i.size, 0);
  if (!complete) parts.push(`undecodable: ${hex(bytes.subarray(used))}`);
  return `${hex(bytes)} = ${parts.join('; ') || 'nothing decodable'}`;
}

/** A call/jmp rel32 as written at a site. */
export interface Rel32 {
  opcode: 'call' | 'jmp';
  rel32: number;
  /** site + 5 + rel32 without wrapping (may be < 0 or >= 2^64). */
  exact: bigint;
  /** What the CPU computes (mod 2^64). */
  target: bigint;
}

/** E8/E9 rel32 at `site`, or undefined for anything else (prefixes included). */
export function rel32Of(bytes: Uint8Array, site: bigint): Rel32 | undefined {
  if (bytes.length !== MCOUNT_INSN_SIZE || (bytes[0] !== Opcode.CALL && bytes[0] !== Opcode.JMP32)) return undefined;
  const rel32 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readInt32LE(1);
  const exact = site + BigInt(MCOUNT_INSN_SIZE) + BigInt(rel32);
  return { opcode: bytes[0] === Opcode.CALL ? 'call' : 'jmp', rel32, exact, target: ((exact % U64) + U64) % U64 };
}

/** Encode `call/jmp target` at site as a tool would: rel32 truncated to 32 bits (so it may be wrong). */
export function encodeRel32(op: 'call' | 'jmp', site: bigint, target: bigint): Uint8Array {
  const b = Buffer.alloc(MCOUNT_INSN_SIZE);
  b[0] = op === 'call' ? Opcode.CALL : Opcode.JMP32;
  b.writeInt32LE(Number(BigInt.asIntN(32, target - (site + BigInt(MCOUNT_INSN_SIZE)))), 1);
  return Uint8Array.from(b);
}

/** Whether target - (site + 5) fits a signed 32-bit displacement. */
export function rel32Fits(site: bigint, target: bigint): boolean {
  const d = BigInt.asIntN(64, target - site - BigInt(MCOUNT_INSN_SIZE));
  return d >= -0x8000_0000n && d <= 0x7fff_ffffn;
}

/** Canonical x86-64 address (bits 63..47 all equal). */
export function isCanonical(a: bigint): boolean {
  const top = a >> 47n;
  return top === 0n || top === (1n << 17n) - 1n;
}

/** Why bytes that are not the ftrace nop might pass for it. */
export function lookalike(b: Uint8Array, site: bigint): string[] {
  const real = formatInsn(decode(FTRACE_NOP, site).insns[0]!);
  const { insns, complete } = decode(b, site);
  const out: string[] = [];
  if (insns.length > 1 && insns.every((i) => i.mnemonic === 'nop')) out.push(`${insns.length} nops, not one: a CPU can stop between them and later run the middle of the new instruction`);
  if (insns[0] && insns[0].size !== b.length) out.push(`the first instruction is ${`${insns[0].size} byte${insns[0].size === 1 ? '' : 's'}`}; the next one starts inside the 5-byte window`);
  if (insns.length === 1 && complete && insns[0]!.mnemonic === 'nop') out.push('a 5-byte nop, but not x86_nops[5] (different prefix/ModRM/SIB/displacement)');
  if (insns[0] && formatInsn(insns[0]) === real && !isFtraceNop(b)) out.push(`capstone prints it as \`${real}\` like the real one: compare bytes, not disassembly`);
  return out;
}
