// breaking.ts - break, tbreak, watch, delete, disable, enable, condition, ignore, info breakpoints

import type { Debugger } from '../session.ts';
import type { Numbered } from '../stops.ts';
import { checkSyntax } from '../expr.ts';
import { hex, table } from '../format.ts';
import { CommandError, intArg, type Command } from './table.ts';
import { parseIds, parseLocation, requireMapped, splitCondition } from './args.ts';

function setBreak(d: Debugger, args: string, temporary: boolean): void {
  const { loc, cond } = splitCondition(args);
  const addr = loc.trim() ? parseLocation(d, loc) : d.reg('rip');
  requireMapped(d, addr);
  if (!d.kernel.isKernelText(addr) && addr >= 0xffff_8000_0000_0000n) {
    d.print(`warning: ${hex(addr)} is not kernel or module text; the breakpoint may never hit`);
  }
  const bp = d.bps.add(addr, { temporary, cond });
  d.print(`${temporary ? 'Temporary breakpoint' : 'Breakpoint'} ${bp.id} at ${hex(addr)}: ${d.kernel.kallsyms.symbolize(addr)}.${cond ? ` (if ${cond})` : ''}`);
}

/** `watch EXPR [LEN]`: LEN defaults to the size of a data symbol, else 8. */
function setWatch(d: Debugger, args: string): void {
  if (!args.trim()) throw new CommandError('Argument required (expression to compute).');
  const m = /^(.*\S)\s+(\d+)$/.exec(args.trim());
  const expr = m ? m[1]! : args.trim();
  const addr = parseLocation(d, expr);
  const sym = d.kernel.kallsyms.find(addr);
  const len = m ? Number(m[2]) : sym && sym.addr === addr && sym.type === 'object' && sym.size > 0 ? Math.min(sym.size, 4096) : 8;
  if (len < 1 || len > 4096) throw new CommandError(`watch: LEN must be 1..4096 bytes, got ${len}`);
  requireMapped(d, addr, len);
  const wp = d.wps.add(addr, len, expr);
  d.print(`Hardware watchpoint ${wp.id}: ${expr} (${len} bytes at ${hex(addr)})`);
}

/** Breakpoints and watchpoints users see, by id. */
function numbered(d: Debugger): Numbered[] {
  return [...d.bps.visible(), ...d.wps.list].sort((a, b) => a.id - b.id);
}

function select(d: Debugger, args: string): Numbered[] {
  const ids = parseIds(args);
  const all = numbered(d);
  if (!ids) return all;
  return ids.map((id) => {
    const n = all.find((x) => x.id === id);
    if (!n) throw new CommandError(`No breakpoint number ${id}.`);
    return n;
  });
}

function del(d: Debugger, args: string): void {
  for (const n of select(d, args)) {
    const bp = d.bps.get(n.id);
    if (bp) d.bps.remove(bp);
    const wp = d.wps.get(n.id);
    if (wp) d.wps.remove(wp);
  }
}

function setEnabled(d: Debugger, args: string, on: boolean): void {
  for (const n of select(d, args)) n.enabled = on;
}

function condition(d: Debugger, args: string): void {
  const m = /^(\d+)\s*(.*)$/.exec(args.trim());
  if (!m) throw new CommandError('Argument required (breakpoint number).');
  const bp = d.bps.get(Number(m[1]));
  if (!bp || bp.internal) throw new CommandError(`No breakpoint number ${m[1]}.`);
  if (m[2]) checkSyntax(m[2]);
  bp.cond = m[2] || undefined;
  d.print(m[2] ? `Breakpoint ${bp.id} now stops only if ${m[2]}.` : `Breakpoint ${bp.id} now unconditional.`);
}

function ignore(d: Debugger, args: string): void {
  const [id, count] = args.trim().split(/\s+/);
  const bp = d.bps.get(intArg(id ?? '', 'ignore'));
  if (!bp || bp.internal) throw new CommandError(`No breakpoint number ${id}.`);
  bp.ignore = intArg(count ?? '', 'ignore');
  d.print(`Will ignore next ${bp.ignore} crossings of breakpoint ${bp.id}.`);
}

/** `info breakpoints`, gdb's columns. */
export function infoBreakpoints(d: Debugger): void {
  const items: { id: number; row: string[]; extra: string[] }[] = [];
  const times = (n: number): string => `${n} time${n === 1 ? '' : 's'}`;
  for (const bp of d.bps.visible()) {
    const extra: string[] = [];
    if (bp.cond) extra.push(`\tstop only if ${bp.cond}`);
    if (bp.hits) extra.push(`\tbreakpoint already hit ${times(bp.hits)}`);
    if (bp.ignore) extra.push(`\tWill ignore next ${bp.ignore} crossings of breakpoint.`);
    const row = [String(bp.id), 'breakpoint', bp.temporary ? 'del' : 'keep', bp.enabled ? 'y' : 'n', hex(bp.addr), d.kernel.kallsyms.symbolize(bp.addr)];
    items.push({ id: bp.id, row, extra });
  }
  for (const wp of d.wps.list) {
    const row = [String(wp.id), 'hw watchpoint', 'keep', wp.enabled ? 'y' : 'n', hex(wp.addr), `${wp.expr} (${wp.len} bytes)`];
    items.push({ id: wp.id, row, extra: wp.hits ? [`\twatchpoint already hit ${times(wp.hits)}`] : [] });
  }
  if (items.length === 0) return d.print('No breakpoints or watchpoints.');
  items.sort((a, b) => a.id - b.id);
  const lines = table([['Num', 'Type', 'Disp', 'Enb', 'Address', 'What'], ...items.map((i) => i.row)]);
  d.print(lines[0]!);
  items.forEach((it, i) => d.print(lines[i + 1]!, ...it.extra));
}

export const BREAKPOINT_COMMANDS: Command[] = [
  {
    name: 'break', aliases: ['b', 'br'], category: 'breakpoints', usage: 'break [SYM|SYM+OFF|*ADDR] [if COND]', complete: 'symbol',
    summary: 'Stop when any cpu is about to execute LOCATION',
    help: 'COND is an expression over $registers, $cpu, $pid, $comm, symbols and *deref, e.g.\n  break cmdline_proc_show if $comm == "klpsh" && $cpu == 1',
    run: (d, a) => setBreak(d, a, false),
  },
  {
    name: 'tbreak', category: 'breakpoints', usage: 'tbreak LOCATION [if COND]', complete: 'symbol',
    summary: 'A breakpoint deleted after its first stop', run: (d, a) => setBreak(d, a, true),
  },
  {
    name: 'watch', category: 'breakpoints', usage: 'watch SYM|*ADDR [LEN]', complete: 'symbol',
    summary: 'Stop after a write that changes [ADDR, ADDR+LEN); text pokes (text_poke_bp) are reported too',
    help: 'LEN defaults to the size of a data symbol, else 8. A vCPU store stops that vCPU right after it;\na host text_poke_bp (ftrace, livepatch) is reported with its bytes before and after.',
    run: (d, a) => setWatch(d, a),
  },
  { name: 'delete', aliases: ['d'], category: 'breakpoints', usage: 'delete [N...]', summary: 'Delete breakpoints/watchpoints (all without arguments)', run: (d, a) => del(d, a) },
  { name: 'disable', aliases: ['dis', 'disa'], category: 'breakpoints', usage: 'disable [N...]', summary: 'Disable breakpoints/watchpoints', run: (d, a) => setEnabled(d, a, false) },
  { name: 'enable', aliases: ['en'], category: 'breakpoints', usage: 'enable [N...]', summary: 'Enable breakpoints/watchpoints', run: (d, a) => setEnabled(d, a, true) },
  { name: 'condition', category: 'breakpoints', usage: 'condition N [COND]', summary: 'Set or clear the condition of breakpoint N', run: (d, a) => condition(d, a) },
  { name: 'ignore', category: 'breakpoints', usage: 'ignore N COUNT', summary: 'Pass breakpoint N COUNT times without stopping', run: (d, a) => ignore(d, a) },
];
