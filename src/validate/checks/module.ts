// module.ts - whole-module checks: ELF type, livepatch=Y, exported symbols, the klp_patch, relocations, .klp.sym

import { ET_REL } from '../../elf/index.ts';
import { hexAddr, type KernelView } from '../kernelView.ts';
import { relocName, type LinkedModule, type RelocOutcome } from '../modLink.ts';
import { findPatchAddr, readDeclPatch, type DeclPatch } from '../klpStructs.ts';
import { result, type CheckResult } from '../types.ts';
const G = 'module';
const R = 'relocations';
const MAX_EVIDENCE = 8;

/** mod.elf: an ET_REL object with a modinfo name (what load_module needs before anything else). */
export function elfCheck(lm: LinkedModule): CheckResult {
  if (lm.elf.type !== ET_REL) return result('mod.elf', G, 'fail', `e_type ${lm.elf.type} is not ET_REL (${ET_REL}): not a kernel module`, [lm.file]);
  if (!lm.name) return result('mod.elf', G, 'fail', 'no .modinfo name=: the loader cannot name the module', [lm.file]);
  const secs = lm.elf.sections.filter((s) => s.name.startsWith('.text')).length;
  return result('mod.elf', G, 'pass', `ET_REL module '${lm.name}'`, [`${lm.elf.sections.length} sections (${secs} text), ${lm.elf.symbols.length} symbols`]);
}

/** mod.livepatch-modinfo: MODULE_INFO(livepatch, Y), without which klp_enable_patch refuses the module. */
function livepatchModinfo(lm: LinkedModule): CheckResult {
  const v = lm.modinfo.get('livepatch');
  const all = [...lm.modinfo].map(([k, vs]) => vs.map((x) => `${k}=${x}`).join(' ')).join(' ');
  if (v?.[0] === 'Y') return result('mod.livepatch-modinfo', G, 'pass', '.modinfo has livepatch=Y', [`.modinfo: ${all}`]);
  const why = v ? `livepatch=${v[0]}, not Y` : 'no livepatch= key';
  return result('mod.livepatch-modinfo', G, 'fail', `.modinfo has ${why}: "module ${lm.name} is not marked as a livepatch module"`, [`.modinfo: ${all}`]);
}

/** mod.symbols-exported: every SHN_UNDEF symbol is EXPORT_SYMBOL'd by vmlinux. */
function symbolsExported(lm: LinkedModule): CheckResult {
  const bad = lm.undefined.filter((u) => u.addr === undefined).map((u) => u.name);
  const ok = lm.undefined.filter((u) => u.addr !== undefined).map((u) => `${u.name} → ${hexAddr(u.addr!)}`);
  if (bad.length === 0) return result('mod.symbols-exported', G, 'pass', `${ok.length} undefined symbol${ok.length === 1 ? '' : 's'}, all exported by vmlinux`, ok);
  return result('mod.symbols-exported', G, 'fail', `Unknown symbol ${bad[0]}${bad.length > 1 ? ` (and ${bad.length - 1} more)` : ''}: not exported by vmlinux (use KLP_SYM for a local symbol)`, bad.map((n) => `Unknown symbol ${n} (err -2)`));
}

/** mod.klp-patch: init passes a readable klp_patch; returns it for the per-function checks. */
function klpPatch(lm: LinkedModule, view: KernelView): { check: CheckResult; patch?: DeclPatch } {
  const found = findPatchAddr(lm, view);
  if (found.addr === undefined) return { check: result('mod.klp-patch', G, 'fail', found.why ?? 'no klp_patch found', found.evidence) };
  const p = readDeclPatch(lm, found.addr, found.evidence);
  if (typeof p === 'string') return { check: result('mod.klp-patch', G, 'fail', p, found.evidence) };
  const objs = p.objects;
  const ev = [...p.evidence, `klp_patch at ${hexAddr(p.addr)}: replace=${p.replace ? 1 : 0}, objects ${objs.join(', ')}`];
  for (const f of p.funcs) ev.push(`klp_func ${f.obj}:${f.oldName},${f.sympos} → ${lm.symbols.find((s) => s.addr === f.newFunc && s.type === 'func')?.name ?? hexAddr(f.newFunc)}`);
  const callbacksOnly = p.funcs.length === 0 ? ' (no functions: callbacks only)' : '';
  return { check: result('mod.klp-patch', G, 'pass', `klp_patch with ${p.funcs.length} function${p.funcs.length === 1 ? '' : 's'} in ${objs.length} object${objs.length === 1 ? '' : 's'}${callbacksOnly}`, ev), patch: p };
}

/** The module-level checks; the declared patch (if readable) feeds the function checks. */
export function moduleChecks(lm: LinkedModule, view: KernelView): { checks: CheckResult[]; patch?: DeclPatch } {
  const kp = klpPatch(lm, view);
  return { checks: [livepatchModinfo(lm), symbolsExported(lm), kp.check], ...(kp.patch ? { patch: kp.patch } : {}) };
}

const line = (o: RelocOutcome): string => `${o.section}[${o.index}] ${relocName(o.type)} at ${o.where} (${hexAddr(o.loc)}) → ${o.sym}: ${o.detail}`;

function cap(lines: string[]): string[] {
  return lines.length > MAX_EVIDENCE ? [...lines.slice(0, MAX_EVIDENCE), `... and ${lines.length - MAX_EVIDENCE} more`] : lines;
}

/** mod.relocs-in-range: known types, fields inside their sections, values that fit (no -mcmodel overflow). */
function inRange(lm: LinkedModule): CheckResult {
  const bad = lm.relocs.filter((o) => o.problem === 'type' || o.problem === 'offset' || o.problem === 'overflow');
  const deferred = lm.relocs.filter((o) => o.problem === 'deferred').length;
  const unresolved = lm.relocs.filter((o) => o.problem === 'symbol').length;
  const note = [deferred ? `${deferred} deferred to their object's load` : '', unresolved ? `${unresolved} not evaluated (symbol unresolved)` : ''].filter(Boolean).join(', ');
  const n = lm.relocs.length;
  if (bad.length === 0) return result('mod.relocs-in-range', R, 'pass', `${n - deferred - unresolved} of ${n} relocations fit at a module base of ${hexAddr(lm.base)}${note ? ` (${note})` : ''}`, []);
  const first = bad[0]!;
  const what = first.problem === 'overflow' ? 'overflows' : first.problem === 'offset' ? 'lies outside its section' : 'has an unknown type';
  return result('mod.relocs-in-range', R, 'fail', `${bad.length} relocation${bad.length > 1 ? 's' : ''} out of range: ${first.section}[${first.index}] ${relocName(first.type)} → ${first.sym} ${what}`, cap(bad.map(line)));
}

/** mod.reloc-target-zero: apply_relocate_add refuses a field that is not zero. */
function targetZero(lm: LinkedModule): CheckResult {
  const bad = lm.relocs.filter((o) => o.existing !== 0n);
  if (bad.length === 0) return result('mod.reloc-target-zero', R, 'pass', `all ${lm.relocs.length} relocation target fields are zero`, []);
  const lines = bad.map((o) => `${o.section}[${o.index}] ${relocName(o.type)} at ${o.where}: existing value 0x${o.existing.toString(16)} (x86/modules: Invalid relocation target, existing value is nonzero)`);
  return result('mod.reloc-target-zero', R, 'fail', `${bad.length} relocation target field${bad.length > 1 ? 's are' : ' is'} nonzero, first at ${bad[0]!.where}`, cap(lines));
}

/** mod.klp-sym-unique: every .klp.sym.<obj>.<name>,<pos> is well formed and resolves to exactly one symbol. */
function klpSyms(lm: LinkedModule): CheckResult {
  const notMarked = lm.relocs.filter((o) => o.problem === 'symbol' && /not marked as a livepatch symbol|non-livepatch/.test(o.detail));
  const bad = lm.klpSyms.filter((s) => s.problem && s.problem !== 'deferred');
  const deferred = lm.klpSyms.filter((s) => s.problem === 'deferred');
  const ok = lm.klpSyms.filter((s) => !s.problem).map((s) => `${s.name} → ${hexAddr(s.addr!)}`);
  if (bad.length === 0 && notMarked.length === 0) {
    if (lm.klpSyms.length === 0) return result('mod.klp-sym-unique', R, 'pass', 'no .klp.sym symbols', []);
    const extra = deferred.length ? ` (${deferred.length} of other objects resolve at their load)` : '';
    return result('mod.klp-sym-unique', R, 'pass', `${ok.length} .klp.sym symbol${ok.length === 1 ? '' : 's'} resolve uniquely${extra}`, ok);
  }
  const lines = [...bad.map((s) => `${s.name}: ${s.problem}`), ...notMarked.map(line)];
  return result('mod.klp-sym-unique', R, 'fail', lines[0]!, cap(lines));
}

/** The relocation checks of a linked module. */
export function relocChecks(lm: LinkedModule): CheckResult[] {
  return [inRange(lm), targetZero(lm), klpSyms(lm)];
}
