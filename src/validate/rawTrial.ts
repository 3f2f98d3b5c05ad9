// rawTrial.ts - apply raw text patches with text_poke_bp on a scratch machine, run a workload, revert them

import type { System } from '../system.ts';
import type { PokeSite } from '../ftrace/index.ts';
import { hexAddr, systemView } from './kernelView.ts';
import { hex, rel32Of, sameBytes } from './insn.ts';
import { parseRawPatch, type RawPatch, type RawPatchSpec } from './rawPatch.ts';
import { ExecWatch, catOnce, procPathsReaching } from './probe.ts';
import { G, TrialClock, applySets, bootScratch, compareText, hangCheck, mark, oopsCheck, runUntil, snapshotText, type TrialOptions } from './trialKit.ts';
import { result, type CheckResult } from './types.ts';

/** Raw trials default to a slice watchdog: a bad jump can loop without a guest event. */
export const RAW_WATCHDOG_US = 50_000;
const WORKLOAD_NS = 500_000_000n;
const WORKLOAD_CPU_MS = 15_000;

/** The procfs files whose show function reaches each patched function. */
function probePaths(sys: System, patches: RawPatch[]): string[] {
  const paths = new Set<string>();
  for (const p of patches) {
    const fn = sys.kernel.kallsyms.find(p.site);
    if (fn?.type === 'func') for (const e of procPathsReaching(sys, fn.addr)) paths.add(e.path);
  }
  return [...paths];
}

/** Write every patch (all old bytes are verified first: nothing is written on a mismatch). */
function apply(sys: System, patches: RawPatch[], reverse: boolean): CheckResult {
  const id = reverse ? 'trial.revert' : 'trial.apply';
  const mem = sys.kernel.machine.mem;
  const sites: PokeSite[] = patches.map((p) => ({ addr: p.site, old: reverse ? p.new : p.old, new: reverse ? p.old : p.new }));
  const ev = sites.map((s) => `${hexAddr(s.addr)} ${sys.kernel.kallsyms.symbolize(s.addr)}: ${hex(s.old)} → ${hex(s.new)}`);
  const bad = sites.find((s) => !sameBytes(mem.isMapped(s.addr, s.old.length) ? Uint8Array.from(mem.read(s.addr, s.old.length)) : undefined, s.old));
  if (bad) {
    const actual = mem.isMapped(bad.addr, bad.old.length) ? hex(mem.read(bad.addr, bad.old.length)) : 'unmapped';
    return result(id, G, 'fail', `text_poke_bp refuses ${hexAddr(bad.addr)}: it holds ${actual}, not ${hex(bad.old)}; nothing written`, ev);
  }
  const poker = sys.ftrace.poker;
  const before = poker.syncs;
  const mismatch = poker.textPokeAll(sites);
  if (mismatch) return result(id, G, 'fail', `text_poke_bp refused ${hexAddr(mismatch.site.addr)}`, ev);
  const what = reverse ? 'reverted' : 'applied';
  return result(id, G, 'pass', `${what} ${sites.length} site${sites.length === 1 ? '' : 's'} with text_poke_bp (${poker.syncs - before} syncs)`, ev);
}

/** trial.new-code per patch: the site ran and, for a call/jmp, its target was reached. */
function ranCheck(p: RawPatch, watch: ExecWatch): CheckResult {
  const rel = rel32Of(p.new, p.site);
  const ev = [`site ran: ${watch.summary(p.site)}`];
  if (rel) ev.push(`${rel.opcode} target ${hexAddr(rel.target)} reached: ${watch.summary(rel.target)}`);
  if (watch.count(p.site) === 0) return result('trial.new-code', G, 'skip', 'no workload reached the site', ev, p.label);
  if (rel && watch.count(rel.target) === 0) return result('trial.new-code', G, 'fail', `the site ran ${watch.count(p.site)} times but its ${rel.opcode} target was never reached`, ev, p.label);
  return result('trial.new-code', G, 'pass', `the patched site ran ${watch.count(p.site)} times${rel ? ` and reached its ${rel.opcode} target` : ''}`, ev, p.label);
}

/**
 * The trial of raw patches: boot, snapshot, apply with text_poke_bp, run the
 * procfs readers of the patched functions and the user tasks, check for
 * oopses, revert, compare the text.
 */
export function trialPatches(specs: RawPatchSpec[], o: TrialOptions): CheckResult[] {
  const clock = new TrialClock(o.cpuMs ?? 180_000);
  const sys = bootScratch({ ...o, watchdogUs: o.watchdogUs ?? RAW_WATCHDOG_US });
  if (!('kernel' in sys)) return [sys];
  const checks: CheckResult[] = [];
  try {
    const view = systemView(sys);
    const patches = specs.map((s) => parseRawPatch(view, s));
    const paths = probePaths(sys, patches);
    for (const p of paths) catOnce(sys, p, clock);
    applySets(sys, o);
    const snap = snapshotText(sys);
    const m = mark(sys);
    const targets = patches.flatMap((p) => [p.site, ...(rel32Of(p.new, p.site) ? [rel32Of(p.new, p.site)!.target] : [])]);
    const watch = new ExecWatch(sys, [...new Set(targets)].filter((a) => sys.kernel.machine.mem.isMapped(a, 1)));
    const applied = apply(sys, patches, false);
    checks.push(applied);
    if (applied.status === 'pass') {
      const outs = paths.map((p) => ({ p, r: catOnce(sys, p, clock) }));
      runUntil(sys, () => false, WORKLOAD_NS, clock, 'the workload', WORKLOAD_CPU_MS);
      for (const p of patches) checks.push(ranCheck(p, watch));
      const failedReads = outs.filter(({ r }) => r.error).map(({ p, r }) => `cat ${p}: ${r.error}`);
      watch.remove();
      checks.push(oopsCheck(sys, m, failedReads));
      checks.push(apply(sys, patches, true));
    } else {
      watch.remove();
      checks.push(oopsCheck(sys, m));
    }
    checks.push(hangCheck(clock));
    checks.push(compareText(sys, snap));
  } catch (e) {
    checks.push(result('trial.no-oops', G, 'fail', `the trial stopped: ${(e as Error).message.split('\n')[0]}`, []));
  } finally {
    sys.kernel.machine.close();
  }
  return checks;
}
