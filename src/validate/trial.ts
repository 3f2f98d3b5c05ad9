// trial.ts - load a livepatch module on a scratch machine, exercise it, unload it, compare the text

import type { System } from '../system.ts';
import { hexAddr } from './kernelView.ts';
import type { StaticModule } from './index.ts';
import { ExecWatch, callShow, catOnce, procPathsReaching } from './probe.ts';
import {
  G, PokeAudit, TrialClock, applySets, bootScratch, compareText, hangCheck, mark, oopsCheck, runUntil, snapshotText, type Mark, type TrialOptions,
} from './trialKit.ts';
import { result, type CheckResult } from './types.ts';

const SECOND = 1_000_000_000n;
/** CPU-time limit of one transition wait (guest time is the real limit). */
const PHASE_CPU_MS = 60_000;

/** One patched vmlinux function and how the trial reaches it. */
interface Target {
  name: string;
  old: bigint;
  newFunc: bigint;
  newName: string;
  paths: string[];
  /** The old function is itself a procfs show function: called directly on every vCPU. */
  show: boolean;
  before: Map<string, string>;
}

/** Old/new addresses and procfs probes of every func of the declared patch whose object is loaded; the others as skips. */
function targets(sys: System, st: StaticModule): { tg: Target[]; unreached: CheckResult[] } {
  const ks = sys.kernel.kallsyms;
  const out: Target[] = [];
  const unreached: CheckResult[] = [];
  for (const f of st.patch?.funcs ?? []) {
    // A module object's functions are in kallsyms when that module was loaded first (TrialOptions.objects).
    const old = ks.lookupSympos(f.obj, f.oldName, f.sympos).sym;
    if (!old) {
      const newName = st.lm.symbols.find((s) => s.addr === f.newFunc && s.type === 'func')?.name ?? hexAddr(f.newFunc);
      const why = f.obj !== 'vmlinux' && !sys.modules.modules.has(f.obj)
        ? `not probed: ${f.obj} is not loaded in the trial (give --with ${f.obj}.ko)`
        : `not probed: ${f.oldName} does not resolve in ${f.obj}`;
      unreached.push(result('trial.new-code', G, 'skip', why, [], `${f.oldName} → ${newName}`));
      continue;
    }
    const entries = procPathsReaching(sys, old.addr);
    const newName = st.lm.symbols.find((s) => s.addr === f.newFunc && s.type === 'func')?.name ?? hexAddr(f.newFunc);
    out.push({ name: f.oldName, old: old.addr, newFunc: f.newFunc, newName, paths: entries.map((e) => e.path), show: entries.some((e) => e.show === old.addr), before: new Map() });
  }
  return { tg: out, unreached };
}

const first = (s: string | undefined): string => JSON.stringify((s ?? '').split('\n')[0]!.slice(0, 60));

/** Outputs of every probe of a target: `cat PATH` by a task, and show() as each vCPU. */
function probe(sys: System, t: Target, direct: boolean, clock: TrialClock): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of t.paths) {
    const r = catOnce(sys, p, clock);
    out.set(`cat ${p}`, r.out ?? `<${r.error}>`);
  }
  if (direct && t.show) {
    sys.kernel.machine.vcpus.forEach((_, cpu) => {
      const r = callShow(sys, t.old, cpu);
      out.set(`${t.name}() as cpu${cpu}`, r.out ?? `<${r.error}>`);
    });
  }
  return out;
}

/** trial.new-code for one function: a code hook saw the new function run, or the output changed. */
function newCodeCheck(t: Target, after: Map<string, string>, watch: ExecWatch): CheckResult {
  const ev = [`${t.newName} ran: ${watch.summary(t.newFunc)}`];
  let changed = 0;
  for (const [k, v] of after) {
    const b = t.before.get(k);
    if (b !== undefined && b !== v) changed++;
    ev.push(`${k}: before ${first(b)}, after ${first(v)}`);
  }
  const subject = `${t.name} → ${t.newName}`;
  if (watch.count(t.newFunc) > 0) return result('trial.new-code', G, 'pass', `${t.newName} ran ${watch.count(t.newFunc)} times${changed ? `; ${changed} probe output${changed > 1 ? 's' : ''} changed` : ''}`, ev, subject);
  if (changed) return result('trial.new-code', G, 'pass', `${changed} probe output${changed > 1 ? 's' : ''} changed`, ev, subject);
  if (after.size === 0) return result('trial.new-code', G, 'skip', `no workload reaches ${t.name} (not called from a procfs show function) and no task ran ${t.newName}`, ev, subject);
  return result('trial.new-code', G, 'fail', `calls of ${t.name} never ran ${t.newName}`, ev, subject);
}

/** Wait for the transition; on timeout, name the tasks in the way with their stacks. */
function waitTransition(sys: System, o: TrialOptions, clock: TrialClock, what: string): CheckResult {
  const lp = sys.livepatch;
  const name = lp.transition.patch?.modName ?? '?';
  const t0 = sys.kernel.machine.nowNs;
  const limit = BigInt(o.timeoutS ?? 10) * SECOND;
  if (runUntil(sys, () => !lp.transition.patch, limit, clock, `the ${what} transition`, PHASE_CPU_MS)) {
    const ms = (sys.kernel.machine.nowNs - t0) / 1_000_000n;
    return result('trial.transition', G, 'pass', `the ${what} transition of '${name}' completed after ${ms} ms of guest time (${lp.transition.attempts} attempts)`, []);
  }
  const k = sys.kernel;
  const ev: string[] = [];
  for (const b of lp.transition.blocked) {
    ev.push(`${b.comm}:${b.pid} ${b.reason}${b.reason === 'sleeping-on-function' ? ` ${b.detail}` : `: ${b.detail}`}`);
    const task = k.findTask(b.pid);
    if (!task || task.onCpu) continue;
    const tr = k.stackTraceReliable(task);
    for (const a of tr.entries.slice(0, 12)) ev.push(`    ${k.kallsyms.symbolize(a)}`);
  }
  const waited = (k.machine.nowNs - t0) / SECOND;
  const who = lp.transition.blocked.map((b) => `${b.comm}:${b.pid}`).join(', ') || 'unknown tasks';
  return result('trial.transition', G, 'fail', `the ${what} transition of '${name}' did not complete in ${waited} s of guest time: blocked by ${who}`, ev);
}

/** Disable (or reverse a stuck transition), wait, rmmod. */
function unload(sys: System, name: string, o: TrialOptions, clock: TrialClock): CheckResult {
  const lp = sys.livepatch;
  const ev: string[] = [];
  const patch = lp.findPatch(name);
  if (patch) {
    const r = sys.shell.run(`echo 0 > /sys/kernel/livepatch/${name}/enabled`);
    ev.push(`echo 0 > /sys/kernel/livepatch/${name}/enabled: ${r.status === 0 ? 'ok' : r.err.trim()}`);
    const limit = BigInt(o.timeoutS ?? 10) * 1_000_000_000n;
    if (!runUntil(sys, () => !lp.transition.patch && !lp.findPatch(name), limit, clock, 'the unpatching transition', PHASE_CPU_MS)) {
      ev.push(`still in transition; blocked by ${lp.transition.blocked.map((b) => `${b.comm}:${b.pid} (${b.detail})`).join(', ')}`);
      return result('trial.unload', G, 'fail', `the unpatching transition of '${name}' did not complete`, ev);
    }
  }
  const r = sys.shell.run(`rmmod ${name}`);
  ev.push(`rmmod ${name}: ${r.status === 0 ? 'ok' : r.err.trim()}`);
  if (r.status !== 0) return result('trial.unload', G, 'fail', `rmmod ${name} failed`, ev);
  return result('trial.unload', G, 'pass', patch ? `disabled, unpatched and removed '${name}'` : `removed '${name}' (it registered no patch to disable)`, ev);
}

/** dmesg lines since the mark (evidence for a failed load). */
const dmesgSince = (sys: System, m: Mark): string[] => sys.kernel.dmesg().slice(m.dmesg).map((l) => `dmesg: ${l}`);

/**
 * The trial run of a module: boot, probe, snapshot, insmod, wait for the
 * transition, probe again (code hooks on the new functions), check for
 * oopses, disable, rmmod, compare the text. Returns the trial.* checks.
 */
export function trialModule(bytes: Uint8Array, st: StaticModule, o: TrialOptions): CheckResult[] {
  const clock = new TrialClock(o.cpuMs ?? 180_000);
  const sys = bootScratch(o);
  if (!('kernel' in sys)) return [sys];
  const checks: CheckResult[] = [];
  try {
    // The modules the patch's objects name go in first, as a user would have them loaded.
    const objs: string[] = [];
    for (const ob of o.objects ?? []) {
      const m0 = mark(sys);
      const before = new Set(sys.modules.modules.keys());
      const r = sys.modules.loadModule(ob.bytes);
      if (r < 0) {
        checks.push(result('trial.load', G, 'fail', `insmod ${ob.file} (a module the patch targets) failed: ${r}`, dmesgSince(sys, m0)));
        return checks;
      }
      objs.push(...[...sys.modules.modules.keys()].filter((n) => !before.has(n)));
    }
    const { tg, unreached } = targets(sys, st);
    for (const t of tg) t.before = probe(sys, t, true, clock);
    const sets = applySets(sys, o);
    // Let the workload run into the new settings (e.g. a reader asleep inside a function) before loading.
    if (sets.length) runUntil(sys, () => false, SECOND / 2n, clock, 'settling after --set');
    const snap = snapshotText(sys, objs);
    const m = mark(sys);
    const audit = new PokeAudit(sys);
    const watch = new ExecWatch(sys, tg.map((t) => t.newFunc));
    const ret = sys.modules.loadModule(bytes, o.params ?? []);
    const name = st.lm.name ?? '?';
    const setNote = sets.length ? ` (with ${sets.join(', ')})` : '';
    const withObjs = objs.length ? ` after ${objs.join(', ')}` : '';
    if (ret < 0) {
      checks.push(result('trial.load', G, 'fail', `insmod ${name}${withObjs} failed: ${ret}${setNote}`, dmesgSince(sys, m)));
    } else if (!sys.livepatch.findPatch(name)) {
      checks.push(result('trial.load', G, 'fail', `insmod ${name} returned 0 but registered no livepatch: nothing called klp_enable_patch (not a livepatch module)`, [
        ...dmesgSince(sys, m).slice(0, 6), `/sys/kernel/livepatch/${name}: absent`,
      ]));
    } else {
      checks.push(result('trial.load', G, 'pass', `insmod ${name}${withObjs} returned 0${setNote}`, dmesgSince(sys, m).slice(0, 6)));
      const tr = waitTransition(sys, o, clock, 'patching');
      checks.push(tr);
      if (tr.status === 'pass') {
        runUntil(sys, () => false, 300_000_000n, clock, 'the workload');
        const oopsed = sys.kernel.oopses.length > m.oopses;
        for (const t of tg) checks.push(newCodeCheck(t, probe(sys, t, !oopsed && clock.stalls.length === 0, clock), watch));
      } else for (const t of tg) checks.push(result('trial.new-code', G, 'skip', 'not probed: the transition did not complete', [`${t.newName} ran: ${watch.summary(t.newFunc)}`], `${t.name} → ${t.newName}`));
      checks.push(...unreached);
    }
    watch.remove();
    checks.push(oopsCheck(sys, m));
    const un = ret >= 0 ? unload(sys, name, o, clock) : undefined;
    if (un) checks.push(un);
    checks.push(hangCheck(clock));
    checks.push(audit.check());
    checks.push(compareText(sys, snap));
    // The target modules leave after the comparison (their text is part of it).
    for (const n of objs.reverse()) {
      const r = sys.shell.run(`rmmod ${n}`);
      const line = `rmmod ${n}: ${r.status === 0 ? 'ok' : r.err.trim()}`;
      if (un) {
        un.evidence.push(line);
        if (r.status !== 0 && un.status === 'pass') Object.assign(un, { status: 'fail', verdict: `rmmod ${n} (a module the patch targets) failed after the patch was removed` });
      }
    }
  } catch (e) {
    checks.push(result('trial.no-oops', G, 'fail', `the trial stopped: ${(e as Error).message.split('\n')[0]}`, (e as Error).stack?.split('\n').slice(1, 6) ?? []));
  } finally {
    sys.kernel.machine.close();
  }
  return checks;
}
