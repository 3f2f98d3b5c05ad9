// site.ts - checks of a patch site: a recorded ftrace location at a traceable function's entry

import { FTRACE_MACHINERY, describePlace, hexAddr, placeOf, symbolize, type KernelView } from '../kernelView.ts';
import { describeBytes, isFtraceNop, MCOUNT_INSN_SIZE } from '../insn.ts';
import { result, type CheckResult } from '../types.ts';
import type { RawPatch } from '../rawPatch.ts';

const G = 'site';

/** site.mcount: ftrace_location(site) == site. */
function mcount(view: KernelView, p: RawPatch): CheckResult {
  const where = `${hexAddr(p.site)} ${symbolize(view, p.site)}`;
  if (view.isFtraceLocation(p.site)) return result('site.mcount', G, 'pass', `${where} is a recorded ftrace location`, [where], p.label);
  const sym = view.kallsyms.find(p.site);
  const ev = [`${where} is not in __mcount_loc`];
  if (sym && sym.addr !== p.site && view.isFtraceLocation(sym.addr)) ev.push(`the recorded site of ${sym.name} is its entry ${hexAddr(sym.addr)}`);
  return result('site.mcount', G, 'fail', `${where} is not a recorded ftrace location`, ev, p.label);
}

/** site.entry: the first byte of a function. */
function entry(view: KernelView, p: RawPatch): CheckResult {
  const sym = view.kallsyms.find(p.site);
  const where = symbolize(view, p.site);
  if (!sym) return result('site.entry', G, 'fail', `${hexAddr(p.site)} is in no known function`, [`no symbol contains ${hexAddr(p.site)}`], p.label);
  if (sym.type !== 'func') return result('site.entry', G, 'fail', `${where} is data (${sym.name} is an object)`, [where], p.label);
  if (sym.addr === p.site) return result('site.entry', G, 'pass', `${where} is the entry of ${sym.name}`, [where], p.label);
  return result('site.entry', G, 'fail', `${where} is ${p.site - sym.addr} bytes into ${sym.name}, not its entry`, [describePlace(view, placeOf(view, p.site), p.site)], p.label);
}

/** site.notrace: the containing function is traceable (has the nop and a record), not SYM_CODE nor ftrace's own code. */
function notrace(view: KernelView, p: RawPatch): CheckResult {
  const sym = view.kallsyms.find(p.site);
  if (!sym || sym.type !== 'func') return result('site.notrace', G, 'skip', 'no function contains the site', [], p.label);
  const head = view.read(sym.addr, MCOUNT_INSN_SIZE);
  const headEv = head ? `${sym.name} starts with ${describeBytes(head, sym.addr)}` : `${sym.name}: entry bytes unreadable`;
  if (sym.code) return result('site.notrace', G, 'fail', `${sym.name} is SYM_CODE (entry/trampoline code), never traced`, [headEv], p.label);
  if (FTRACE_MACHINERY.test(sym.name)) return result('site.notrace', G, 'fail', `${sym.name} is ftrace/livepatch machinery: tracing it would recurse`, [headEv], p.label);
  if (!view.isFtraceLocation(sym.addr) && !isFtraceNop(head)) {
    return result('site.notrace', G, 'fail', `${sym.name} is notrace (no ftrace nop, not in __mcount_loc)`, [headEv], p.label);
  }
  return result('site.notrace', G, 'pass', `${sym.name} is traceable`, [headEv], p.label);
}

/** The site checks of one raw patch. */
export function siteChecks(view: KernelView, p: RawPatch): CheckResult[] {
  return [mcount(view, p), entry(view, p), notrace(view, p)];
}
