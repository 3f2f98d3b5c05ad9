// memory.ts - x/FMT (gdb's examine) and print/FMT over guest memory and expressions

import type { Debugger } from '../session.ts';
import { evaluate } from '../expr.ts';
import { decodeAt, hex, insnLine, symOff } from '../format.ts';
import { siteNote } from '../report.ts';
import { CommandError, type Command } from './table.ts';
import { parseLocation, requireMapped } from './args.ts';

const SIZES: Record<string, number> = { b: 1, h: 2, w: 4, g: 8 };
const PER_LINE: Record<number, number> = { 1: 8, 2: 8, 4: 4, 8: 2 };

/** `/4gx` → count 4, format x, size g; missing parts come from the last x (gdb's rule). */
export function parseXFormat(fmt: string | undefined, last: { count: number; format: string; size: string }) {
  const m = /^(\d*)([a-z]*)$/.exec(fmt ?? '');
  if (!m) throw new CommandError(`Invalid number "${fmt}".`);
  let format = last.format;
  let size: string | undefined;
  for (const ch of m[2]!) {
    if ('bhwg'.includes(ch)) size = ch;
    else if ('xduotacfsiz'.includes(ch)) format = ch;
    else throw new CommandError(`Undefined output format "${ch}".`);
  }
  size ??= format === 'a' ? 'g' : format === 'c' ? 'b' : last.size;
  return { count: m[1] ? Number(m[1]) : 1, format, size };
}

/** One unit of memory formatted as gdb would. */
function unit(d: Debugger, v: bigint, size: number, format: string): string {
  const bits = BigInt(size * 8);
  const signed = BigInt.asIntN(Number(bits), v);
  switch (format) {
    case 'd': return signed.toString();
    case 'u': return v.toString();
    case 'o': return v === 0n ? '0' : `0${v.toString(8)}`;
    case 't': return v.toString(2).padStart(size * 8, '0');
    case 'c': return `${signed} '${v >= 32n && v < 127n ? String.fromCharCode(Number(v)) : `\\${v.toString(8).padStart(3, '0')}`}'`;
    case 'a': { const s = symOff(d.kernel.kallsyms, v); return s ? `${hex(v)} ${s}` : hex(v); }
    case 'f': return size === 8 ? String(Buffer.from(new BigUint64Array([v]).buffer).readDoubleLE(0)) : String(Buffer.from(new Uint32Array([Number(v)]).buffer).readFloatLE(0));
    case 'z': return `0x${v.toString(16).padStart(size * 2, '0')}`;
    default: return `0x${v.toString(16).padStart(size * 2, '0')}`;
  }
}

const lineHead = (d: Debugger, addr: bigint): string => {
  const s = symOff(d.kernel.kallsyms, addr);
  return `${hex(addr)}${s ? ' ' + s : ''}:`;
};

function readUnit(d: Debugger, addr: bigint, size: number): bigint {
  const b = d.machine.mem.read(addr, size);
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

function examineUnits(d: Debugger, addr: bigint, count: number, size: number, format: string): bigint {
  requireMapped(d, addr, count * size);
  const per = PER_LINE[size]!;
  for (let i = 0; i < count; i += per) {
    const at = addr + BigInt(i * size);
    const cells: string[] = [];
    for (let j = i; j < Math.min(count, i + per); j++) cells.push(unit(d, readUnit(d, addr + BigInt(j * size), size), size, format));
    d.print(`${lineHead(d, at)}\t${cells.join('\t')}`);
  }
  return addr + BigInt(count * size);
}

function examineStrings(d: Debugger, addr: bigint, count: number): bigint {
  let at = addr;
  for (let i = 0; i < count; i++) {
    requireMapped(d, at);
    const s = d.machine.mem.readCString(at, 4096);
    d.print(`${lineHead(d, at)}\t${JSON.stringify(s)}`);
    at += BigInt(s.length + 1);
  }
  return at;
}

function examineInsns(d: Debugger, addr: bigint, count: number): bigint {
  requireMapped(d, addr);
  const insns = decodeAt(d.machine.mem, addr, count);
  if (insns.length === 0) throw new CommandError(`Cannot decode an instruction at ${hex(addr)}`);
  const pc = d.reg('rip');
  for (const i of insns) d.print(insnLine(d.kernel.kallsyms, i, pc, siteNote(d, i.address)));
  const last = insns[insns.length - 1]!;
  return last.address + BigInt(last.size);
}

/** Units one x may show: beyond this the REPL would print for minutes without a way to stop it. */
export const MAX_X_COUNT = 65536;

function examine(d: Debugger, args: string, fmt: string | undefined): void {
  const f = parseXFormat(fmt, d.lastX);
  if (f.count > MAX_X_COUNT) throw new CommandError(`x: count ${f.count} is too large (at most ${MAX_X_COUNT})`);
  if (!args.trim() && d.xNext === undefined) throw new CommandError('Argument required (starting display address).');
  const addr = args.trim() ? parseLocation(d, args) : d.xNext!;
  d.lastX = { count: f.count, format: f.format, size: f.size };
  if (f.format === 'i') d.xNext = examineInsns(d, addr, f.count);
  else if (f.format === 's') d.xNext = examineStrings(d, addr, f.count);
  else d.xNext = examineUnits(d, addr, f.count, SIZES[f.size]!, f.format);
}

function print(d: Debugger, args: string, fmt: string | undefined): void {
  if (!args.trim()) throw new CommandError('Argument required (expression to compute).');
  const v = evaluate(args, d.evalCtx());
  let text: string;
  if (typeof v === 'string') text = JSON.stringify(v);
  else if (fmt) text = unit(d, v, 8, parseXFormat(fmt, { count: 1, format: 'x', size: 'g' }).format).replace(/^0x0+(?=[0-9a-f])/, '0x');
  else {
    const s = symOff(d.kernel.kallsyms, v);
    text = s ? `${hex(v)} ${s}` : BigInt.asIntN(64, v).toString();
  }
  d.print(`$${++d.values} = ${text}`);
}

export const MEMORY_COMMANDS: Command[] = [
  {
    name: 'x', category: 'data', usage: 'x/NFU ADDR|SYM', complete: 'symbol',
    summary: 'Examine guest memory: N units, format F (x d u o t a c f s i z), unit U (b h w g)',
    help: 'Examples: x/4gx $rsp, x/10i $pc, x/s linux_banner, x/8xb cmdline_proc_show.\nFormat and unit are remembered; a bare x continues after the last one.',
    run: (d, a, f) => examine(d, a, f),
  },
  {
    name: 'print', aliases: ['p'], category: 'data', usage: 'print[/F] EXPR', complete: 'symbol',
    summary: 'Evaluate an expression ($rax, sym+8, *($rsp+8), $comm == "cat")', run: (d, a, f) => print(d, a, f),
  },
];
