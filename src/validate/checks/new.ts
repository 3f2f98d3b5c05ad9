// new.ts - checks of the instruction a patch writes: one call/jmp rel32 of the right length, no straddling, a valid target

import { describePlace, functionAt, hexAddr, nBytes, placeOf, symbolize, trampolineAt, where, type KernelView } from '../kernelView.ts';
import { MCOUNT_INSN_SIZE, decode, describeBytes, isCanonical, isFtraceNop, rel32Fits, rel32Of, type Rel32 } from '../insn.ts';
import { formatInsn } from '../../asm/disasm.ts';
import { result, type CheckResult } from '../types.ts';
import type { RawPatch } from '../rawPatch.ts';

const G = 'new';
/** new.single-insn: exactly one instruction covering every byte. */
function singleInsn(p: RawPatch): CheckResult {
  const { insns, complete } = decode(p.new, p.site);
  const ev = [`new: ${describeBytes(p.new, p.site)}`];
  if (insns.length === 1 && complete) return result('new.single-insn', G, 'pass', `new is one instruction: ${formatInsn(insns[0]!)}`, ev, p.label);
  const why = !complete && insns.length === 0 ? 'does not decode' : !complete ? 'has undecodable bytes' : `is ${insns.length} instructions`;
  return result('new.single-insn', G, 'fail', `new ${why}`, ev, p.label);
}

/** new.same-length: as long as old, and as the 5-byte ftrace window. */
function sameLength(p: RawPatch): CheckResult {
  const ev = [`old: ${p.old.length} bytes, new: ${p.new.length} bytes, MCOUNT_INSN_SIZE: ${MCOUNT_INSN_SIZE}`];
  if (p.new.length === p.old.length && p.new.length === MCOUNT_INSN_SIZE) return result('new.same-length', G, 'pass', `new and old are both ${MCOUNT_INSN_SIZE} bytes`, ev, p.label);
  const why = p.new.length !== p.old.length ? `new is ${p.new.length} bytes, old ${p.old.length}` : `both are ${p.new.length} bytes, the ftrace window is ${MCOUNT_INSN_SIZE}`;
  return result('new.same-length', G, 'fail', why, ev, p.label);
}

/** new.opcode: E8/E9 rel32 without prefixes, or the ftrace nop (restoring a site). */
function opcode(p: RawPatch): CheckResult {
  const ev = [`new: ${describeBytes(p.new, p.site)}`];
  const rel = rel32Of(p.new, p.site);
  if (rel) return result('new.opcode', G, 'pass', `new is ${rel.opcode} rel32 (${p.new[0] === 0xe8 ? 'E8' : 'E9'})`, ev, p.label);
  if (isFtraceNop(p.new)) return result('new.opcode', G, 'pass', 'new is the ftrace nop (the site is restored)', ev, p.label);
  const first = decode(p.new, p.site).insns[0];
  const what = first ? `\`${formatInsn(first)}\` (opcode ${p.new[0]!.toString(16).padStart(2, '0')})` : `undecodable bytes (first ${p.new[0]?.toString(16) ?? 'none'})`;
  return result('new.opcode', G, 'fail', `new is ${what}, not call/jmp rel32 (E8/E9)`, ev, p.label);
}

/**
 * new.no-straddle: the site starts an instruction of the code now there, and
 * that instruction - and the first instruction of `old` - is exactly as long
 * as `new`: the write never runs into the next instruction, and no CPU can be
 * between instructions inside the window.
 */
function noStraddle(view: KernelView, p: RawPatch): CheckResult {
  const ev: string[] = [];
  const bad: string[] = [];
  const len = p.new.length;
  const place = placeOf(view, p.site);
  if (place.sym && place.insn) {
    ev.push(`now at the site: ${describePlace(view, place, p.site)}`);
    if (!place.boundary) bad.push(`the site is inside an instruction of ${place.sym.name}`);
    else if (place.insn.size !== len) bad.push(`the instruction at the site is ${nBytes(place.insn.size)}; a ${len}-byte write ${place.insn.size < len ? 'runs into the next instruction' : 'leaves a tail of it behind'}`);
  } else ev.push('no decodable function code at the site (boundary unknown)');
  const first = decode(p.old, p.site).insns[0];
  if (first) {
    ev.push(`old begins with \`${formatInsn(first)}\` (${nBytes(first.size)})`);
    if (first.size !== len) bad.push(`old's first instruction is ${nBytes(first.size)}, the write is ${len}`);
  } else bad.push('old does not decode');
  if (bad.length === 0) return result('new.no-straddle', G, 'pass', `the ${len}-byte write replaces exactly one instruction`, ev, p.label);
  return result('new.no-straddle', G, 'fail', bad[0]!, [...ev, ...bad.slice(1)], p.label);
}

/** The instruction-shape checks of one raw patch. */
export function insnChecks(view: KernelView, p: RawPatch): CheckResult[] {
  return [singleInsn(p), sameLength(p), opcode(p), noStraddle(view, p)];
}

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
  if (t === p.site) return result('new.target-boundary', G, 'fail', `the ${rel.opcode} targets its own site: ${rel.opcode === 'jmp' ? 'an endless loop' : 'endless recursion'}`, [where(view, t)], p.label);
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
