// target.ts - checks of where a call/jmp rel32 goes: text, a valid entry, no rel32 wrap or truncation

import { describePlace, functionAt, hexAddr, placeOf, symbolize, trampolineAt, where, type KernelView } from '../kernelView.ts';
import { isCanonical, isFtraceNop, rel32Fits, rel32Of, type Rel32 } from '../insn.ts';
import { result, type CheckResult } from '../types.ts';
import type { RawPatch } from '../rawPatch.ts';

const G = 'new';
const U64 = 1n << 64n;

/** new.rel32-overflow: site + 5 + rel32 stays in the address space, canonical, and hits the intended target. */
function overflow(view: KernelView, p: RawPatch, rel: Rel32): CheckResult {
  const next = p.site + 5n;
  const ev = [`site + 5 = ${hexAddr(next)}, rel32 = ${rel.rel32 < 0 ? '-' : '+'}0x${Math.abs(rel.rel32).toString(16)}, target = ${where(view, rel.target)}`];
  if (rel.exact < 0n || rel.exact >= U64) {
    ev.push(`site + 5 + rel32 = ${rel.exact < 0n ? '-' : ''}0x${(rel.exact < 0n ? -rel.exact : rel.exact).toString(16)} wraps around 2^64`);
    return result('new.rel32-overflow', G, 'fail', `rel32 arithmetic wraps: the ${rel.opcode} lands at ${hexAddr(rel.target)}`, ev, p.label);
  }
  if (!isCanonical(rel.target)) return result('new.rel32-overflow', G, 'fail', `the target ${hexAddr(rel.target)} is not canonical`, ev, p.label);
  if (p.target !== undefined) {
    ev.push(`intended target: ${where(view, p.target)}`);
    if (!rel32Fits(p.site, p.target)) {
      const d = BigInt.asIntN(64, p.target - next);
      ev.push(`target - (site + 5) = ${d < 0n ? '-' : ''}0x${(d < 0n ? -d : d).toString(16)} does not fit a signed 32-bit displacement (±2 GiB)`);
      return result('new.rel32-overflow', G, 'fail', `the intended target ${symbolize(view, p.target)} is out of rel32 range: rel32 was truncated`, ev, p.label);
    }
    if (rel.target !== p.target) return result('new.rel32-overflow', G, 'fail', `rel32 encodes ${hexAddr(rel.target)}, not the intended ${hexAddr(p.target)}`, ev, p.label);
  }
  return result('new.rel32-overflow', G, 'pass', `rel32 reaches ${symbolize(view, rel.target)} without wrapping`, ev, p.label);
}

/** new.target-text: kernel, module or trampoline text. */
function targetText(view: KernelView, p: RawPatch, rel: Rel32): CheckResult {
  const owner = view.textOwner(rel.target);
  const at = where(view, rel.target);
  if (owner) return result('new.target-text', G, 'pass', `${at} is ${owner} text`, [at], p.label);
  const sym = view.kallsyms.find(rel.target);
  return result('new.target-text', G, 'fail', `${at} is not kernel or module text${sym?.type === 'object' ? ` (${sym.name} is data)` : ''}`, [at], p.label);
}

/** new.target-boundary: a function start or an ftrace trampoline, never the middle of an instruction. */
function targetBoundary(view: KernelView, p: RawPatch, rel: Rel32): CheckResult {
  const t = rel.target;
  if (!view.textOwner(t)) return result('new.target-boundary', G, 'fail', `${hexAddr(t)} is not code, so not an instruction boundary`, [where(view, t)], p.label);
  const tramp = trampolineAt(view, t);
  if (tramp) return result('new.target-boundary', G, 'pass', `${rel.opcode} into the ftrace trampoline ${tramp.name}${tramp.obj === 'vmlinux' ? '' : ` [${tramp.obj}]`}`, [symbolize(view, t)], p.label);
  const fn = functionAt(view, t);
  if (fn) return result('new.target-boundary', G, 'pass', `${rel.opcode} to the start of ${fn.name}`, [symbolize(view, t)], p.label);
  const place = placeOf(view, t);
  const ev = [describePlace(view, place, t)];
  if (!place.boundary) return result('new.target-boundary', G, 'fail', `${rel.opcode} into the middle of an instruction at ${symbolize(view, t)}`, ev, p.label);
  return result('new.target-boundary', G, 'fail', `${symbolize(view, t)} is an instruction boundary but not an entry (function start or ftrace trampoline)`, ev, p.label);
}

/** The target checks of one raw patch (passed trivially when `new` restores the nop). */
export function targetChecks(view: KernelView, p: RawPatch): CheckResult[] {
  const ids = ['new.target-text', 'new.target-boundary', 'new.rel32-overflow'];
  const rel = rel32Of(p.new, p.site);
  if (!rel) {
    if (isFtraceNop(p.new)) return ids.map((id) => result(id, G, 'pass', 'no target: new is the ftrace nop', [], p.label));
    return ids.map((id) => result(id, G, 'skip', 'no rel32 target to check (see new.opcode)', [], p.label));
  }
  return [targetText(view, p, rel), targetBoundary(view, p, rel), overflow(view, p, rel)];
}
