// trialKit.ts - what both trials share: scratch boot, text snapshot, transition wait, oops scan, poke audit

import { createSystem, type System } from '../system.ts';
import type { KernelImage } from '../kernel/image.ts';
import { MemoryMap } from '../abi/layout.ts';
import { hex } from './insn.ts';
import { hexAddr, systemView } from './kernelView.ts';
import { checkRawPatch, type RawPatch } from './rawPatch.ts';
import { result, type CheckResult } from './types.ts';

/** Trial settings shared by module and raw-patch trials. */
export interface TrialOptions {
  image: KernelImage;
  cpus?: number;
  seed?: number;
  /** Guest seconds a transition may take (default 10). */
  timeoutS?: number;
  /** Guest u64 variables written before loading (e.g. cmdline_proc_delay_ms). */
  set?: { sym: string; value: bigint }[];
  /** Module parameters (name=value). */
  params?: string[];
  /**
   * Modules the patch's klp objects name (e.g. test_klp_mod_target.ko for
   * test_klp_mod_patch.ko): the static checks resolve against them and the
   * trial loads them before the patch, probes them and removes them last.
   */
  objects?: ModuleFile[];
  /** CPU-time budget of the whole trial in ms (default 180000). */
  cpuMs?: number;
  /**
   * Abort a slice after this many wall-clock µs without a guest event (a new
   * function or patched site that loops forever); 0 = off (such a loop then
   * hangs the trial). Costs ~150 µs per slice: about 5x slower.
   */
  watchdogUs?: number;
}

/** A module file and its bytes. */
export interface ModuleFile {
  file: string;
  bytes: Uint8Array;
}

export const G = 'trial';
const STALL_CPU_MS = 3_000;
const STALL_GUEST_NS = 50_000_000n;
// die()'s first line is "STR: ERR [#N] PREEMPT SMP" (traps.S fmt_oops), e.g. "invalid opcode: 0000 [#1] PREEMPT SMP".
const BAD_LINE = /\bOops\b|\bBUG:|WARNING:|Kernel panic|ftrace bug|: [0-9a-f]{4} \[#\d+\]/;

/** Boot a scratch machine; a failure is the trial.boot check. */
export function bootScratch(o: TrialOptions): System | CheckResult {
  try {
    return createSystem({ image: o.image, cpus: o.cpus ?? 2, seed: o.seed ?? 1, nrUserTasks: 4, watchdogUs: o.watchdogUs ?? 0 });
  } catch (e) {
    return result('trial.boot', G, 'fail', 'the scratch machine did not boot', (e as Error).message.split('\n').slice(0, 8));
  }
}

/** The bytes of vmlinux's kernel text now, and of the text of the named loaded modules. */
export function snapshotText(sys: System, modules: string[] = []): { addr: bigint; bytes: Buffer }[] {
  const mem = sys.kernel.machine.mem;
  const kernel = sys.kernel.image.sections.filter((s) => s.exec && s.addr >= MemoryMap.KERNEL_TEXT).map((s) => ({ addr: s.addr, bytes: Buffer.from(mem.read(s.addr, s.size)) }));
  const mods = sys.kernel.textRanges.filter((r) => modules.includes(r.owner)).map((r) => ({ addr: r.lo, bytes: Buffer.from(mem.read(r.lo, Number(r.hi - r.lo))) }));
  return [...kernel, ...mods];
}

/** trial.text-restored: every text byte equals the snapshot; evidence names the differing ranges. */
export function compareText(sys: System, snap: { addr: bigint; bytes: Buffer }[]): CheckResult {
  const mem = sys.kernel.machine.mem;
  const diffs: string[] = [];
  let total = 0;
  for (const s of snap) {
    const now = mem.read(s.addr, s.bytes.length);
    for (let i = 0; i < now.length; i++) {
      if (now[i] === s.bytes[i]) continue;
      let j = i;
      while (j < now.length && now[j] !== s.bytes[j]) j++;
      total += j - i;
      const at = s.addr + BigInt(i);
      if (diffs.length < 8) diffs.push(`${hexAddr(at)} ${sys.kernel.kallsyms.symbolize(at)}: was ${hex(s.bytes.subarray(i, j))}, now ${hex(now.subarray(i, j))}`);
      i = j;
    }
  }
  const size = snap.reduce((n, s) => n + s.bytes.length, 0);
  const kernel = sys.kernel.image.sections.filter((s) => s.exec && s.addr >= MemoryMap.KERNEL_TEXT).reduce((n, s) => n + s.size, 0);
  const what = size === kernel ? `kernel text (${size} bytes)` : `kernel and target module text (${kernel} + ${size - kernel} bytes)`;
  if (total === 0) return result('trial.text-restored', G, 'pass', `${what} is byte-identical to the snapshot`, []);
  return result('trial.text-restored', G, 'fail', `${total} byte${total === 1 ? '' : 's'} of kernel text differ from the snapshot`, diffs);
}

/** Write `--set SYM=VALUE` variables (u64). */
export function applySets(sys: System, o: TrialOptions): string[] {
  const out: string[] = [];
  for (const s of o.set ?? []) {
    sys.kernel.machine.mem.writeU64(sys.kernel.sym(s.sym), s.value);
    out.push(`${s.sym} = ${s.value}`);
  }
  return out;
}

/** CPU time this process has used, in ms (load on the host does not make it pass faster). */
export const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * The trial's budget and where the guest stopped making progress. Budgets
 * are in CPU time of this process, not wall time: a loaded host slows the
 * emulator and the clock alike, so a slow machine is not mistaken for a hang.
 */
export class TrialClock {
  readonly deadline: number;
  readonly stalls: string[] = [];

  constructor(cpuMs: number) {
    this.deadline = cpuNow() + cpuMs;
  }
}

/**
 * Run the machine slice by slice until `pred`, `ns` of guest time, a panic,
 * or `cpuMs` of CPU time (capped by the trial's budget). A guest stuck in a
 * loop without events only advances its clock per watchdog slice, so the
 * CPU limit (or guest time crawling) is what ends it; that is recorded as a
 * stall of `what`.
 */
export function runUntil(sys: System, pred: () => boolean, ns: bigint, clock: TrialClock, what: string, cpuMs = 30_000): boolean {
  const m = sys.kernel.machine;
  const t0 = m.nowNs;
  const end = t0 + ns;
  const cpu0 = cpuNow();
  // Once the guest stalled, later phases get a short leash.
  const stop = Math.min(clock.deadline, cpu0 + (clock.stalls.length ? Math.min(cpuMs, 1_000) : cpuMs));
  for (let i = 0; !pred(); i++) {
    if (m.nowNs >= end || m.panicMessage !== undefined) return pred();
    if ((i & 15) === 0) {
      const now = cpuNow();
      // Normal runs do a guest second in 0.3-2 s of CPU; 50 ms in 3 s is a loop without events.
      const crawling = now - cpu0 > STALL_CPU_MS && m.nowNs - t0 < STALL_GUEST_NS;
      if (now > stop || crawling) {
        const ms = Number((m.nowNs - t0) / 1_000_000n);
        clock.stalls.push(`${what}: only ${ms} ms of guest time passed in ${((now - cpu0) / 1000).toFixed(1)} s of CPU (a loop without guest events?)`);
        return pred();
      }
    }
    if (!m.step()) return pred();
  }
  return true;
}

/** trial.no-hang: the guest kept making progress in every phase. */
export function hangCheck(clock: TrialClock): CheckResult {
  if (clock.stalls.length === 0) return result('trial.no-hang', G, 'pass', 'the guest made progress in every phase', []);
  return result('trial.no-hang', G, 'fail', `the guest stopped making progress: ${clock.stalls[0]}`, clock.stalls);
}

/** Where the trial started looking for trouble. */
export interface Mark {
  dmesg: number;
  oopses: number;
  warnings: number;
}

export function mark(sys: System): Mark {
  return { dmesg: sys.kernel.dmesg().length, oopses: sys.kernel.oopses.length, warnings: sys.livepatch.warnings.length };
}

/** trial.no-oops: no oops, panic, BUG/WARNING line or livepatch WARN_ON since `from` (`extra` is evidence only). */
export function oopsCheck(sys: System, from: Mark, extra: string[] = []): CheckResult {
  const k = sys.kernel;
  const ev: string[] = [];
  // Identical oopses (same vector, RIP and CPU) are one line with their count, so the lines add up to the count in the verdict.
  const seen = new Map<string, number>();
  for (const o of k.oopses.slice(from.oopses)) {
    const l = `oops: vector ${o.vector} at ${hexAddr(o.rip)} ${o.text} on cpu${o.cpu}`;
    seen.set(l, (seen.get(l) ?? 0) + 1);
  }
  for (const [l, n] of seen) ev.push(n > 1 ? `${l} (${n} times)` : l);
  if (k.machine.panicMessage !== undefined) ev.push(`panic: ${k.machine.panicMessage}`);
  for (const w of sys.livepatch.warnings.slice(from.warnings)) ev.push(`WARN_ON: ${w}`);
  const lines = k.dmesg().slice(from.dmesg);
  const bad = lines.map((l, i) => ({ l, i })).filter(({ l }) => BAD_LINE.test(l));
  for (const { i } of bad.slice(0, 2)) ev.push(...lines.slice(i, i + 6).map((l) => `dmesg: ${l}`));
  if (ev.length === 0) return result('trial.no-oops', G, 'pass', 'no oops, panic, BUG or WARNING', extra);
  ev.push(...extra);
  const n = k.oopses.length - from.oopses;
  const head = n ? `${n} oops${n > 1 ? 'es' : ''}: ${k.oopses[from.oopses]!.text}` : k.machine.panicMessage ? `kernel panic: ${k.machine.panicMessage}` : ev[0]!;
  return result('trial.no-oops', G, 'fail', head, [...new Set(ev)].slice(0, 24));
}

/** Every site ftrace writes during a trial, checked like a raw patch just before it is written. */
export class PokeAudit {
  readonly pokes: { patch: RawPatch; line: string; failed: CheckResult[] }[] = [];
  private restore: (() => void) | undefined;

  constructor(sys: System) {
    const poker = sys.ftrace.poker;
    const orig = poker.textPokeBpBatch.bind(poker);
    poker.textPokeBpBatch = (batch) => {
      const view = systemView(sys);
      for (const s of batch) {
        const label = `${sys.kernel.kallsyms.symbolize(s.addr)}`;
        const patch: RawPatch = { spec: { site: hexAddr(s.addr), old: hex(s.old), new: hex(s.new) }, site: s.addr, old: Uint8Array.from(s.old), new: Uint8Array.from(s.new), label };
        const call = s.new[0] === 0xe8 || s.new[0] === 0xe9 ? ` (${s.new[0] === 0xe8 ? 'call' : 'jmp'} ${view.kallsyms.symbolize(s.addr + 5n + BigInt(Buffer.from(s.new).readInt32LE(1)))})` : '';
        const line = `${label}: ${hex(s.old)} → ${hex(s.new)}${call}`;
        this.pokes.push({ patch, line, failed: checkRawPatch(view, patch).filter((c) => c.status === 'fail') });
      }
      return orig(batch);
    };
    this.restore = () => {
      poker.textPokeBpBatch = orig;
    };
  }

  /** trial.pokes: one line per poke, failing checks named. */
  check(): CheckResult {
    this.restore?.();
    const bad = this.pokes.filter((p) => p.failed.length);
    const ev = this.pokes.slice(0, 16).map((p) => p.line + (p.failed.length ? `  ✗ ${p.failed.map((c) => c.id).join(', ')}` : ''));
    if (bad.length === 0) return result('trial.pokes', G, 'pass', `${this.pokes.length} text poke${this.pokes.length === 1 ? '' : 's'} by ftrace, each a valid ftrace site write`, ev);
    const first = bad[0]!.failed[0]!;
    return result('trial.pokes', G, 'fail', `${bad.length} of ${this.pokes.length} pokes fail static checks: ${first.id}: ${first.verdict}`, [...ev, ...bad[0]!.failed.flatMap((c) => [`${c.id}: ${c.verdict}`, ...c.evidence.map((e) => `  ${e}`)])]);
  }
}
