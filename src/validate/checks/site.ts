// site.ts - checks of a patch site and what it holds: an ftrace location at a traceable entry, with the exact nop

import { FTRACE_MACHINERY, describePlace, hexAddr, placeOf, symbolize, type KernelView } from '../kernelView.ts';
import { FTRACE_NOP, MCOUNT_INSN_SIZE, describeBytes, hex, isFtraceNop, lookalike, rel32Of, sameBytes } from '../insn.ts';
import { result, type CheckResult } from '../types.ts';
import type { RawPatch } from '../rawPatch.ts';

/** site.mcount: ftrace_location(site) == site. */
function mcount(view: KernelView, p: RawPatch): CheckResult {
  const where = `${hexAddr(p.site)} ${symbolize(view, p.site)}`;
  if (view.isFtraceLocation(p.site)) return result('site.mcount', 'site', 'pass', `${where} is a recorded ftrace location`, [where], p.label);
  const sym = view.kallsyms.find(p.site);
  const ev = [`${where} is not in __mcount_loc`];
  if (sym && sym.addr !== p.site && view.isFtraceLocation(sym.addr)) ev.push(`the recorded site of ${sym.name} is its entry ${hexAddr(sym.addr)}`);
  return result('site.mcount', 'site', 'fail', `${where} is not a recorded ftrace location`, ev, p.label);
}

/** site.entry: the first byte of a function. */
function entry(view: KernelView, p: RawPatch): CheckResult {
  const sym = view.kallsyms.find(p.site);
  const where = symbolize(view, p.site);
  if (!sym) return result('site.entry', 'site', 'fail', `${hexAddr(p.site)} is in no known function`, [`no symbol contains ${hexAddr(p.site)}`], p.label);
  if (sym.type !== 'func') return result('site.entry', 'site', 'fail', `${where} is data (${sym.name} is an object)`, [where], p.label);
  if (sym.addr === p.site) return result('site.entry', 'site', 'pass', `${where} is the entry of ${sym.name}`, [where], p.label);
  return result('site.entry', 'site', 'fail', `${where} is ${p.site - sym.addr} bytes into ${sym.name}, not its entry`, [describePlace(view, placeOf(view, p.site), p.site)], p.label);
}

/** site.notrace: the containing function is traceable (has the nop and a record), not SYM_CODE nor ftrace's own code. */
function notrace(view: KernelView, p: RawPatch): CheckResult {
  const sym = view.kallsyms.find(p.site);
  if (!sym || sym.type !== 'func') return result('site.notrace', 'site', 'skip', 'no function contains the site', [], p.label);
  const head = view.read(sym.addr, MCOUNT_INSN_SIZE);
  const headEv = head ? `${sym.name} starts with ${describeBytes(head, sym.addr)}` : `${sym.name}: entry bytes unreadable`;
  if (sym.code) return result('site.notrace', 'site', 'fail', `${sym.name} is SYM_CODE (entry/trampoline code), never traced`, [headEv], p.label);
  if (FTRACE_MACHINERY.test(sym.name)) return result('site.notrace', 'site', 'fail', `${sym.name} is ftrace/livepatch machinery: tracing it would recurse`, [headEv], p.label);
  if (!view.isFtraceLocation(sym.addr) && !isFtraceNop(head)) {
    return result('site.notrace', 'site', 'fail', `${sym.name} is notrace (no ftrace nop, not in __mcount_loc)`, [headEv], p.label);
  }
  return result('site.notrace', 'site', 'pass', `${sym.name} is traceable`, [headEv], p.label);
}

/** The site checks of one raw patch. */
export function siteChecks(view: KernelView, p: RawPatch): CheckResult[] {
  return [mcount(view, p), entry(view, p), notrace(view, p)];
}

/** bytes.old-match: what the tool expects is what the site holds (ftrace_verify_code). */
function oldMatch(view: KernelView, p: RawPatch): CheckResult {
  const cur = view.read(p.site, p.old.length);
  const at = `${hexAddr(p.site)} ${symbolize(view, p.site)}`;
  if (!cur) return result('bytes.old-match', 'bytes', 'fail', `${at} is not mapped`, [], p.label);
  const ev = [`actual:   ${describeBytes(cur, p.site)}`, `expected: ${describeBytes(p.old, p.site)}`];
  if (sameBytes(cur, p.old)) return result('bytes.old-match', 'bytes', 'pass', `${at} holds ${hex(cur)}`, ev, p.label);
  const first = [...cur].findIndex((b, i) => b !== p.old[i]);
  return result('bytes.old-match', 'bytes', 'fail', `${at} holds ${hex(cur)}, not the expected ${hex(p.old)} (first difference at byte ${first})`, ev, p.label);
}

/**
 * bytes.ftrace-nop: the nop side of the patch is exactly 0f 1f 44 00 00 -
 * `old` when installing a call/jmp, `new` when restoring one; a call-to-call
 * modification has no nop side.
 */
function ftraceNop(p: RawPatch): CheckResult {
  const oldRel = rel32Of(p.old, p.site);
  const newRel = rel32Of(p.new, p.site);
  if (oldRel && newRel) return result('bytes.ftrace-nop', 'bytes', 'pass', `${oldRel.opcode} → ${newRel.opcode}: a modification, no nop involved`, [], p.label);
  const side = oldRel ? 'new' : 'old';
  const b = oldRel ? p.new : p.old;
  const ev = [`${side}: ${describeBytes(b, p.site)}`, `ftrace nop: ${describeBytes(FTRACE_NOP, p.site)}`];
  if (isFtraceNop(b)) return result('bytes.ftrace-nop', 'bytes', 'pass', `${side} is exactly the ftrace nop`, ev, p.label);
  return result('bytes.ftrace-nop', 'bytes', 'fail', `${side} (${hex(b)}) is not the ftrace nop ${hex(FTRACE_NOP)}`, [...ev, ...lookalike(b, p.site)], p.label);
}

/** The byte checks of one raw patch. */
export function bytesChecks(view: KernelView, p: RawPatch): CheckResult[] {
  return [oldMatch(view, p), ftraceNop(p)];
}
