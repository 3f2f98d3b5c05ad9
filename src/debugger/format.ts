// format.ts - how the debugger prints addresses, symbols, instructions, bytes and guest time

import type { Kallsyms } from '../kernel/kallsyms.ts';
import { disassemble, formatInsn, type Insn } from '../asm/disasm.ts';
import type { GuestMemory } from '../../emu/machine/index.ts';

/** `0x…` in lower-case hex. */
export const hex = (v: bigint | number): string => `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;

/** A 64-bit address padded to 16 hex digits, as gdb prints addresses in listings. */
export const addr16 = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16).padStart(16, '0')}`;

/** Bytes as `0f 1f 44 00 00`. */
export const hexBytes = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

/**
 * gdb's `<sym+off>` (decimal offset, always shown, ` [mod]` for module symbols),
 * or '' when no symbol covers `addr`.
 */
export function symOff(ks: Kallsyms, addr: bigint): string {
  const s = ks.find(addr);
  if (!s) return '';
  const mod = s.obj === 'vmlinux' ? '' : ` [${s.obj}]`;
  return `<${s.name}+${addr - s.addr}${mod}>`;
}

/** `0xffffffff81001530 <cmdline_proc_show+0>`, or the bare address. */
export function describeAddr(ks: Kallsyms, addr: bigint): string {
  const s = symOff(ks, addr);
  return s ? `${hex(addr)} ${s}` : hex(addr);
}

/** Parse a duration: `500ms`, `2s`, `10us`, `1000ns`, or plain nanoseconds. */
export function parseDuration(text: string): bigint {
  const m = /^(\d+(?:\.\d+)?)\s*(ns|us|ms|s)?$/.exec(text.trim());
  if (!m) throw new Error(`bad duration '${text}' (e.g. 500ms, 2s)`);
  const scale = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 }[(m[2] ?? 'ns') as 'ns'];
  return BigInt(Math.round(Number(m[1]) * scale));
}

/** Guest time as `1.234567 s`. */
export function fmtTime(ns: bigint): string {
  const s = ns / 1_000_000_000n;
  const us = (ns % 1_000_000_000n) / 1000n;
  return `${s}.${us.toString().padStart(6, '0')} s`;
}

/**
 * Annotate an instruction's operands as gdb does: an absolute target that is a
 * symbol gets ` <sym+off>`, a RIP-relative operand gets `# 0x… <sym+off>`.
 */
export function annotateInsn(ks: Kallsyms, i: Insn): string {
  let text = formatInsn(i);
  const abs = /^0x([0-9a-f]{6,16})$/.exec(i.opStr.trim());
  if (abs) {
    const s = symOff(ks, BigInt(`0x${abs[1]}`));
    if (s) text += ` ${s}`;
  }
  const rel = /\[rip ([+-]) (0x[0-9a-f]+|\d+)\]/.exec(i.opStr);
  if (rel) {
    const disp = BigInt(rel[2]!);
    const target = BigInt.asUintN(64, i.address + BigInt(i.size) + (rel[1] === '-' ? -disp : disp));
    text += `\t# ${describeAddr(ks, target)}`;
  }
  return text;
}

/** One listing line: `=> 0xffff… <sym+off>:\tinsn` (the arrow marks `pc`). */
export function insnLine(ks: Kallsyms, i: Insn, pc?: bigint, note = ''): string {
  const mark = pc === i.address ? '=> ' : '   ';
  const where = symOff(ks, i.address);
  return `${mark}${addr16(i.address)}${where ? ' ' + where : ''}:\t${annotateInsn(ks, i)}${note}`;
}

/** Decode `count` instructions from guest memory at `addr` (fewer at the end of a mapping). */
export function decodeAt(mem: GuestMemory, addr: bigint, count: number): Insn[] {
  let len = Math.max(16, count * 15);
  while (len > 0 && !mem.isMapped(addr, len)) len >>= 1;
  if (len === 0) throw new Error(`cannot access memory at ${hex(addr)}`);
  return disassemble(mem.read(addr, len), addr, count);
}

/** Right-pad columns of a table (every row the same number of cells). */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}
