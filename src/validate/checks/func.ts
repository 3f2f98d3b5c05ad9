// func.ts - per klp_func checks: resolves, old/new traceable, sizes known, no two funcs on one function

import { FTRACE_MACHINERY, hexAddr, type KernelView } from '../kernelView.ts';
import { describeBytes, isFtraceNop, lookalike, MCOUNT_INSN_SIZE } from '../insn.ts';
import { moduleKallsyms, type LinkedModule } from '../modLink.ts';
import type { DeclFunc, DeclPatch } from '../klpStructs.ts';
import type { KSym } from '../../kernel/kallsyms.ts';
import { result, type CheckResult } from '../types.ts';

const G = 'function';

/** `0xffffffffa0001000 test_klp_mod_target_show+0x0/0x20 [test_klp_mod_target]` */
function whereIn(ov: ObjectView, addr: bigint): string {
  const s = ov.kallsyms.symbolize(addr);
  return s.startsWith('0x') ? hexAddr(addr) : `${hexAddr(addr)} ${s}`;
}

/** What the per-function checks read of the object a klp_func patches: vmlinux, or a supplied module. */
export interface ObjectView {
  kallsyms: KernelView['kallsyms'];
  read: KernelView['read'];
  isFtraceLocation: KernelView['isFtraceLocation'];
  /** Where it came from: the vmlinux path or the module file. */
  source: string;
}

/** An object view of a linked module (its symbols, bytes and __mcount_loc). */
export function moduleObjectView(m: LinkedModule): ObjectView {
  const mcount = new Set(m.mcountLoc);
  return { kallsyms: moduleKallsyms(m), read: m.read, isFtraceLocation: (ip) => mcount.has(ip), source: m.file };
}

interface FuncCtx {
  f: DeclFunc;
  subject: string;
  /** The patched object, when it is vmlinux or a supplied module. */
  ov?: ObjectView;
  old?: KSym;
  newSym?: KSym;
}

/** mod.klp-func-resolves: klp_find_object_symbol(obj, name, sympos). */
function resolves(c: FuncCtx): CheckResult {
  const { f, ov } = c;
  if (!ov) return result('mod.klp-func-resolves', G, 'skip', `object ${f.obj} is a module that was not supplied: resolved when it loads (give --with ${f.obj}.ko)`, [], c.subject);
  const all = ov.kallsyms.lookupAll(f.oldName, f.obj);
  const ev = all.map((s, i) => `candidate ${i + 1}: ${whereIn(ov, s.addr)} (${s.type}${s.global ? ', global' : ', local'})`);
  if (f.obj !== 'vmlinux') ev.push(`${f.obj} symbols from ${ov.source}`);
  if (c.old && c.old.type === 'func') return result('mod.klp-func-resolves', G, 'pass', `${f.oldName},${f.sympos} resolves to ${hexAddr(c.old.addr)}`, ev, c.subject);
  if (c.old) return result('mod.klp-func-resolves', G, 'fail', `${f.oldName} is an object, not a function`, ev, c.subject);
  const why = all.length === 0 ? `symbol '${f.oldName}' not found in symbol table${f.obj === 'vmlinux' ? '' : ` of ${f.obj}`}`
    : f.sympos === 0 ? `unresolvable ambiguity for symbol '${f.oldName}' in object '${f.obj}' (${all.length} candidates; set old_sympos)`
    : `symbol position ${f.sympos} for symbol '${f.oldName}' in object '${f.obj}' not found (${all.length} candidates)`;
  return result('mod.klp-func-resolves', G, 'fail', why, ev, c.subject);
}

/** mod.old-traceable: the old function's entry is a recorded ftrace site holding the ftrace nop. */
function oldTraceable(c: FuncCtx): CheckResult {
  const view = c.ov;
  if (!c.old || !view) return result('mod.old-traceable', G, 'skip', view ? 'the old function does not resolve' : `object ${c.f.obj} was not supplied`, [], c.subject);
  const head = view.read(c.old.addr, MCOUNT_INSN_SIZE);
  const ev = [head ? `${c.old.name} starts with ${describeBytes(head, c.old.addr)}` : `${c.old.name}: entry unreadable`];
  if (head && !isFtraceNop(head)) ev.push(...lookalike(head, c.old.addr));
  if (c.old.code) return result('mod.old-traceable', G, 'fail', `${c.old.name} is SYM_CODE: it cannot be patched`, ev, c.subject);
  if (FTRACE_MACHINERY.test(c.old.name)) return result('mod.old-traceable', G, 'fail', `${c.old.name} is ftrace/livepatch machinery`, ev, c.subject);
  if (!view.isFtraceLocation(c.old.addr)) return result('mod.old-traceable', G, 'fail', `${c.old.name} is notrace: "failed to find location for function '${c.old.name}'"`, ev, c.subject);
  if (!isFtraceNop(head)) return result('mod.old-traceable', G, 'fail', `${c.old.name}'s entry is recorded but does not hold the ftrace nop`, ev, c.subject);
  return result('mod.old-traceable', G, 'pass', `${c.old.name} is a recorded ftrace location with the ftrace nop`, ev, c.subject);
}

/** mod.new-traceable: the new function is compiled like a kernel function (nop + __mcount_loc). */
function newTraceable(lm: LinkedModule, c: FuncCtx): CheckResult {
  const head = lm.read(c.f.newFunc, MCOUNT_INSN_SIZE);
  const name = c.newSym?.name ?? hexAddr(c.f.newFunc);
  const ev = [head ? `${name} starts with ${describeBytes(head, c.f.newFunc)}` : `${hexAddr(c.f.newFunc)} is outside the module`];
  if (head && !isFtraceNop(head)) ev.push(...lookalike(head, c.f.newFunc));
  const listed = lm.mcountLoc.includes(c.f.newFunc);
  ev.push(`${listed ? 'in' : 'not in'} the module's __mcount_loc (${lm.mcountLoc.length} entries)`);
  if (listed && isFtraceNop(head)) return result('mod.new-traceable', G, 'pass', `${name} starts with the ftrace nop and is recorded`, ev, c.subject);
  const why = !isFtraceNop(head) ? `${name} does not start with the ftrace nop` : `${name} is not in the module's __mcount_loc`;
  return result('mod.new-traceable', G, 'fail', `${why}: the new function is not traceable`, ev, c.subject);
}

/** mod.sizes-known: kallsyms size lookups of old and new succeed (klp_init_func_loaded). */
function sizesKnown(lm: LinkedModule, c: FuncCtx): CheckResult {
  const ev: string[] = [];
  const bad: string[] = [];
  if (c.old) {
    ev.push(`old ${c.old.name}: ${c.old.size} bytes`);
    if (c.old.size === 0) bad.push(`kallsyms size lookup failed for '${c.f.oldName}'`);
  }
  const containing = lm.symbols.find((s) => s.type === 'func' && c.f.newFunc >= s.addr && c.f.newFunc < s.addr + BigInt(Math.max(1, s.size)));
  if (c.newSym && c.newSym.size > 0) ev.push(`new ${c.newSym.name}: ${c.newSym.size} bytes`);
  else {
    const inside = containing ? `; it is ${containing.name}+0x${(c.f.newFunc - containing.addr).toString(16)}` : '';
    ev.push(`new_func ${hexAddr(c.f.newFunc)} is not the start of a sized function${inside}`);
    bad.push(`kallsyms size lookup failed for '${c.f.oldName}' replacement`);
  }
  if (bad.length === 0) return result('mod.sizes-known', G, 'pass', `${c.old ? `old ${c.old.size} bytes` : `old not resolved (${c.f.obj})`}, new ${c.newSym!.size} bytes`, ev, c.subject);
  return result('mod.sizes-known', G, 'fail', bad.join('; '), ev, c.subject);
}

/** mod.no-duplicate-func: each (object, function) is patched by one klp_func only. */
function noDuplicates(ctxs: FuncCtx[]): CheckResult[] {
  const key = (c: FuncCtx): string => `${c.f.obj}:${c.old ? hexAddr(c.old.addr) : `${c.f.oldName},${c.f.sympos}`}`;
  return ctxs.map((c) => {
    const same = ctxs.filter((d) => d !== c && key(d) === key(c));
    if (same.length === 0) return result('mod.no-duplicate-func', G, 'pass', `only this klp_func patches ${c.f.obj}:${c.f.oldName}`, [], c.subject);
    const ev = [c, ...same].map((d) => `klp_func at ${hexAddr(d.f.addr)}: ${d.f.oldName},${d.f.sympos} → ${d.newSym?.name ?? hexAddr(d.f.newFunc)}`);
    return result('mod.no-duplicate-func', G, 'fail', `${same.length + 1} klp_funcs patch ${c.f.obj}:${c.f.oldName}`, ev, c.subject);
  });
}

/** Every per-function check of a declared patch, grouped by function. */
export function funcChecks(lm: LinkedModule, view: KernelView, patch: DeclPatch, objects: ReadonlyMap<string, LinkedModule> = new Map()): CheckResult[] {
  const vmlinux: ObjectView = { kallsyms: view.kallsyms, read: view.read, isFtraceLocation: view.isFtraceLocation, source: view.name };
  const ovs = new Map<string, ObjectView>([...objects].map(([n, m]) => [n, moduleObjectView(m)]));
  const ctxs: FuncCtx[] = patch.funcs.map((f) => {
    const ov = f.obj === 'vmlinux' ? vmlinux : ovs.get(f.obj);
    const old = ov?.kallsyms.lookupSympos(f.obj, f.oldName, f.sympos).sym;
    const newSym = lm.symbols.find((s) => s.type === 'func' && s.addr === f.newFunc && s.size > 0);
    const subject = `${f.obj}:${f.oldName}${f.sympos ? `,${f.sympos}` : ''} → ${newSym?.name ?? hexAddr(f.newFunc)}`;
    return { f, subject, ...(ov ? { ov } : {}), ...(old ? { old } : {}), ...(newSym ? { newSym } : {}) };
  });
  const seen = new Map<string, number>();
  for (const c of ctxs) {
    const n = (seen.get(c.subject) ?? 0) + 1;
    seen.set(c.subject, n);
    if (n > 1) c.subject += ` (klp_func ${n})`;
  }
  const dups = noDuplicates(ctxs);
  return ctxs.flatMap((c, i) => [resolves(c), oldTraceable(c), newTraceable(lm, c), sizesKnown(lm, c), dups[i]!]);
}
