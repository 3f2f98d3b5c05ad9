// relocs.ts - module relocation checks: in range, target fields zero, .klp.sym symbols resolve uniquely

import { hexAddr } from '../kernelView.ts';
import { relocName, type LinkedModule, type RelocOutcome } from '../modLink.ts';
import { result, type CheckResult } from '../types.ts';

const G = 'relocations';
const MAX_EVIDENCE = 8;

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
  if (bad.length === 0) return result('mod.relocs-in-range', G, 'pass', `${n - deferred - unresolved} of ${n} relocations fit at a module base of ${hexAddr(lm.base)}${note ? ` (${note})` : ''}`, []);
  const first = bad[0]!;
  const what = first.problem === 'overflow' ? 'overflows' : first.problem === 'offset' ? 'lies outside its section' : 'has an unknown type';
  return result('mod.relocs-in-range', G, 'fail', `${bad.length} relocation${bad.length > 1 ? 's' : ''} out of range: ${first.section}[${first.index}] ${relocName(first.type)} → ${first.sym} ${what}`, cap(bad.map(line)));
}

/** mod.reloc-target-zero: apply_relocate_add refuses a field that is not zero. */
function targetZero(lm: LinkedModule): CheckResult {
  const bad = lm.relocs.filter((o) => o.existing !== 0n);
  if (bad.length === 0) return result('mod.reloc-target-zero', G, 'pass', `all ${lm.relocs.length} relocation target fields are zero`, []);
  const lines = bad.map((o) => `${o.section}[${o.index}] ${relocName(o.type)} at ${o.where}: existing value 0x${o.existing.toString(16)} (x86/modules: Invalid relocation target, existing value is nonzero)`);
  return result('mod.reloc-target-zero', G, 'fail', `${bad.length} relocation target field${bad.length > 1 ? 's are' : ' is'} nonzero, first at ${bad[0]!.where}`, cap(lines));
}

/** mod.klp-sym-unique: every .klp.sym.<obj>.<name>,<pos> is well formed and resolves to exactly one symbol. */
function klpSyms(lm: LinkedModule): CheckResult {
  const notMarked = lm.relocs.filter((o) => o.problem === 'symbol' && /not marked as a livepatch symbol|non-livepatch/.test(o.detail));
  const bad = lm.klpSyms.filter((s) => s.problem && s.problem !== 'deferred');
  const deferred = lm.klpSyms.filter((s) => s.problem === 'deferred');
  const ok = lm.klpSyms.filter((s) => !s.problem).map((s) => `${s.name} → ${hexAddr(s.addr!)}`);
  if (bad.length === 0 && notMarked.length === 0) {
    if (lm.klpSyms.length === 0) return result('mod.klp-sym-unique', G, 'pass', 'no .klp.sym symbols', []);
    const extra = deferred.length ? ` (${deferred.length} of other objects resolve at their load)` : '';
    return result('mod.klp-sym-unique', G, 'pass', `${ok.length} .klp.sym symbol${ok.length === 1 ? '' : 's'} resolve uniquely${extra}`, ok);
  }
  const lines = [...bad.map((s) => `${s.name}: ${s.problem}`), ...notMarked.map(line)];
  return result('mod.klp-sym-unique', G, 'fail', lines[0]!, cap(lines));
}

/** The relocation checks of a linked module. */
export function relocChecks(lm: LinkedModule): CheckResult[] {
  return [inRange(lm), targetZero(lm), klpSyms(lm)];
}
