// code.ts - info registers, disassemble (capstone, symbolized, ftrace sites), info symbol

import type { Debugger } from '../session.ts';
import { REGISTERS, registerName } from '../session.ts';
import type { X86Reg } from '../../../emu/types.ts';
import { disassemble } from '../../asm/disasm.ts';
import { hex, hexBytes, insnLine, symOff } from '../format.ts';
import { siteNote } from '../report.ts';
import { CommandError, type Command } from './table.ts';
import { parseLocation, requireMapped } from './args.ts';

const EFLAGS: [number, string][] = [[0, 'CF'], [2, 'PF'], [4, 'AF'], [6, 'ZF'], [7, 'SF'], [8, 'TF'], [9, 'IF'], [10, 'DF'], [11, 'OF']];
const POINTERS = new Set<X86Reg>(['rbp', 'rsp', 'fs_base', 'gs_base']);
const SEGMENTS = new Set<X86Reg>(['cs', 'ss', 'ds', 'es', 'fs', 'gs']);

/** gdb's natural column: symbol for rip, flag names for eflags, decimal otherwise. */
function natural(d: Debugger, r: X86Reg, v: bigint): string {
  if (r === 'rip') return `${hex(v)} ${symOff(d.kernel.kallsyms, v)}`.trimEnd();
  if (r === 'rflags') return `[ ${EFLAGS.filter(([b]) => (v >> BigInt(b)) & 1n).map(([, n]) => n).join(' ')} ]`;
  if (POINTERS.has(r) || r.startsWith('cr') || r === 'efer') return hex(v);
  if (SEGMENTS.has(r)) return v.toString();
  return BigInt.asIntN(64, v).toString();
}

function infoRegisters(d: Debugger, args: string): void {
  const names = args.trim() ? args.trim().split(/\s+/).map((n) => n.replace(/^\$/, '')) : [...REGISTERS];
  const regs = names.map((n) => {
    const r = registerName(n);
    if (!r) throw new CommandError(`Invalid register \`${n}'`);
    return r;
  });
  const shown = regs.map((r) => (r === 'rflags' ? 'eflags' : r));
  const values = regs.map((r) => d.reg(r));
  regs.forEach((r, i) => d.print(`${shown[i]!.padEnd(15)}${hex(values[i]!).padEnd(19)}${natural(d, r, values[i]!)}`));
}

/** The range a disassemble argument names: a function (by symbol) or START,END / START,+LEN. */
function disasRange(d: Debugger, args: string): { lo: bigint; hi: bigint; title: string } {
  const ks = d.kernel.kallsyms;
  const a = args.replace(/\/\w+/g, '').trim();
  const comma = a.indexOf(',');
  if (comma >= 0) {
    const lo = parseLocation(d, a.slice(0, comma));
    const rest = a.slice(comma + 1).trim();
    const hi = rest.startsWith('+') ? lo + parseLocation(d, rest.slice(1)) : parseLocation(d, rest);
    return { lo, hi, title: `from ${hex(lo)} to ${hex(hi)}` };
  }
  const at = a ? parseLocation(d, a) : d.reg('rip');
  const s = ks.find(at);
  if (!s || s.size === 0) return { lo: at, hi: at + 64n, title: `from ${hex(at)} to ${hex(at + 64n)}` };
  return { lo: s.addr, hi: s.addr + BigInt(s.size), title: `for function ${s.name}${s.obj === 'vmlinux' ? '' : ` [${s.obj}]`}` };
}

function disas(d: Debugger, args: string, fmt: string | undefined): void {
  const raw = fmt === 'r' || /(^|\s)\/r\b/.test(args);
  const { lo, hi, title } = disasRange(d, args);
  if (hi <= lo || hi - lo > 65536n) throw new CommandError(`bad range ${hex(lo)}..${hex(hi)}`);
  requireMapped(d, lo, Number(hi - lo));
  const insns = disassemble(d.machine.mem.read(lo, Number(hi - lo)), lo);
  const pc = d.reg('rip');
  d.print(`Dump of assembler code ${title}:`);
  for (const i of insns) {
    const line = insnLine(d.kernel.kallsyms, i, pc, siteNote(d, i.address) + (d.bps.isBreakAt(i.address) ? '\t[breakpoint]' : ''));
    d.print(raw ? line.replace(':\t', `:\t${hexBytes(i.bytes).padEnd(24)}\t`) : line);
  }
  const used = insns.reduce((n, i) => n + i.size, 0);
  if (BigInt(used) < hi - lo) d.print(`   (${Number(hi - lo) - used} bytes at ${hex(lo + BigInt(used))} do not decode)`);
  d.print('End of assembler dump.');
}

function infoSymbol(d: Debugger, args: string): void {
  if (!args.trim()) throw new CommandError('Argument required (address).');
  const addr = parseLocation(d, args);
  const s = d.kernel.kallsyms.find(addr);
  if (!s) return d.print(`No symbol matches ${args.trim()}.`);
  const off = addr - s.addr;
  const section = s.type === 'func' ? '.text' : 'data';
  d.print(`${s.name}${off ? ` + ${off}` : ''} in section ${section}${s.obj === 'vmlinux' ? '' : ` of module ${s.obj}`}`);
}

export const CODE_COMMANDS: Command[] = [
  {
    name: 'registers', aliases: ['regs'], category: 'data', usage: 'regs [REG...]',
    summary: 'Registers of the current cpu (same as info registers)', run: (d, a) => infoRegisters(d, a),
  },
  {
    name: 'disassemble', aliases: ['disas'], category: 'data', usage: 'disassemble[/r] [SYM|ADDR|START,END|START,+LEN]', complete: 'symbol',
    summary: 'Disassemble a function (default: the one at $pc), symbolized; ftrace sites show nop or call',
    run: (d, a, f) => disas(d, a, f),
  },
];

export const INFO_CODE = { infoRegisters, infoSymbol };
