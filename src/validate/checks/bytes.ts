// bytes.ts - checks of the bytes a patch replaces: they are there now, and the nop is the ftrace nop

import { hexAddr, nBytes, symbolize, type KernelView } from '../kernelView.ts';
import { FTRACE_NOP, decode, describeBytes, hex, isFtraceNop, rel32Of, sameBytes } from '../insn.ts';
import { formatInsn } from '../../asm/disasm.ts';
import { result, type CheckResult } from '../types.ts';
import type { RawPatch } from '../rawPatch.ts';

const G = 'bytes';

/** bytes.old-match: what the tool expects is what the site holds (ftrace_verify_code). */
function oldMatch(view: KernelView, p: RawPatch): CheckResult {
  const cur = view.read(p.site, p.old.length);
  const at = `${hexAddr(p.site)} ${symbolize(view, p.site)}`;
  if (!cur) return result('bytes.old-match', G, 'fail', `${at} is not mapped`, [], p.label);
  const ev = [`actual:   ${describeBytes(cur, p.site)}`, `expected: ${describeBytes(p.old, p.site)}`];
  if (sameBytes(cur, p.old)) return result('bytes.old-match', G, 'pass', `${at} holds ${hex(cur)}`, ev, p.label);
  const first = [...cur].findIndex((b, i) => b !== p.old[i]);
  return result('bytes.old-match', G, 'fail', `${at} holds ${hex(cur)}, not the expected ${hex(p.old)} (first difference at byte ${first})`, ev, p.label);
}

/** Why bytes that are not the ftrace nop might pass for it. */
function lookalike(b: Uint8Array, site: bigint): string[] {
  const real = formatInsn(decode(FTRACE_NOP, site).insns[0]!);
  const { insns, complete } = decode(b, site);
  const out: string[] = [];
  if (insns.length > 1 && insns.every((i) => i.mnemonic === 'nop')) out.push(`${insns.length} nops, not one: a CPU can stop between them and later run the middle of the new instruction`);
  if (insns[0] && insns[0].size !== b.length) out.push(`the first instruction is ${nBytes(insns[0].size)}; the next one starts inside the 5-byte window`);
  if (insns.length === 1 && complete && insns[0]!.mnemonic === 'nop') out.push('a 5-byte nop, but not x86_nops[5] (different prefix/ModRM/SIB/displacement)');
  if (insns[0] && formatInsn(insns[0]) === real && !isFtraceNop(b)) out.push(`capstone prints it as \`${real}\` like the real one: compare bytes, not disassembly`);
  return out;
}

/**
 * bytes.ftrace-nop: the nop side of the patch is exactly 0f 1f 44 00 00 -
 * `old` when installing a call/jmp, `new` when restoring one; a call-to-call
 * modification has no nop side.
 */
function ftraceNop(p: RawPatch): CheckResult {
  const oldRel = rel32Of(p.old, p.site);
  const newRel = rel32Of(p.new, p.site);
  if (oldRel && newRel) return result('bytes.ftrace-nop', G, 'pass', `${oldRel.opcode} → ${newRel.opcode}: a modification, no nop involved`, [], p.label);
  const side = oldRel ? 'new' : 'old';
  const b = oldRel ? p.new : p.old;
  const ev = [`${side}: ${describeBytes(b, p.site)}`, `ftrace nop: ${describeBytes(FTRACE_NOP, p.site)}`];
  if (isFtraceNop(b)) return result('bytes.ftrace-nop', G, 'pass', `${side} is exactly the ftrace nop`, ev, p.label);
  return result('bytes.ftrace-nop', G, 'fail', `${side} (${hex(b)}) is not the ftrace nop ${hex(FTRACE_NOP)}`, [...ev, ...lookalike(b, p.site)], p.label);
}

/** The byte checks of one raw patch. */
export function bytesChecks(view: KernelView, p: RawPatch): CheckResult[] {
  return [oldMatch(view, p), ftraceNop(p)];
}
