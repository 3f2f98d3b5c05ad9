// insn.ts - checks of the instruction a patch writes: one instruction, same length, call/jmp rel32, no straddling

import { describePlace, nBytes, placeOf, type KernelView } from '../kernelView.ts';
import { MCOUNT_INSN_SIZE, decode, describeBytes, isFtraceNop, rel32Of } from '../insn.ts';
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
