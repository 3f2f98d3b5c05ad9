// args.ts - argument helpers shared by commands: locations, `if COND`, numbers, expression values

import type { Debugger } from '../session.ts';
import { evaluateNumber, checkSyntax } from '../expr.ts';
import { CommandError } from './table.ts';

/**
 * A code or data location as gdb takes it: `SYM`, `SYM+OFF`, `*EXPR`
 * (`*0xffffffff81001530`, `*$pc+5`). Both forms evaluate the expression;
 * `*` only marks "an address" as in gdb.
 * @throws CommandError for an empty or unknown location
 */
export function parseLocation(d: Debugger, text: string): bigint {
  const t = text.trim().replace(/^\*\s*/, '');
  if (!t) throw new CommandError('Argument required (a location: SYM, SYM+OFF or *ADDR).');
  return evaluateNumber(t, d.evalCtx());
}

/** Split `LOC if COND` (the condition is syntax-checked now, evaluated at each hit). */
export function splitCondition(args: string): { loc: string; cond?: string } {
  const m = /^(.*?)\s+if\s+(.+)$/.exec(args) ?? /^()if\s+(.+)$/.exec(args);
  if (!m) return { loc: args };
  checkSyntax(m[2]!);
  return { loc: m[1]!, cond: m[2]! };
}

/** Ids from `delete 1 3-4` (empty = undefined, meaning all). @throws CommandError */
export function parseIds(args: string): number[] | undefined {
  if (!args.trim()) return undefined;
  const ids: number[] = [];
  for (const w of args.trim().split(/\s+/)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(w);
    if (!m) throw new CommandError(`Convenience variable must have integer value.\nArgs must be numbers or '$' variables: '${w}'`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let i = a; i <= b; i++) ids.push(i);
  }
  return ids;
}

/** Address must be mapped guest memory. @throws CommandError */
export function requireMapped(d: Debugger, addr: bigint, len = 1): void {
  if (!d.machine.mem.isMapped(addr, len)) throw new CommandError(`Cannot access memory at address 0x${addr.toString(16)}`);
}

/** A guest-shell job makes a run end when it completes (so `continue` returns with its output). */
export function jobDone(d: Debugger): (() => boolean) | undefined {
  const job = d.job;
  return job ? () => job.done() : undefined;
}
