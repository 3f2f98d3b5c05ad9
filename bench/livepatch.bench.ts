// livepatch.bench.ts - livepatch-sample transition with 100/1,000/10,000 sleeping kthreads (host/guest time, stack checks) and guest instructions of a patched vs unpatched cmdline_proc_show call

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../emu/index.ts';
import type { Engine, HookHandle } from '../emu/types.ts';
import { createSystem, type System } from '../src/system.ts';
import { bootKernel } from '../src/kernel/boot.ts';
import type { KernelImage } from '../src/kernel/image.ts';
import { MemoryMap } from '../src/abi/layout.ts';
import { buildModuleFile, moduleSources } from '../src/module/sources.ts';
import { benchImage } from './image.ts';
import { median, renderTable, si, type Row } from './table.ts';

export interface LivepatchBenchOptions {
  /** nrSleepers of the measured transitions (default 100, 1000, 10000). */
  sizes?: number[];
  /**
   * Guest heap per sleeper in bytes (default 32 KiB: the bump allocator gives
   * a task a 512-byte kmalloc object (256-byte task + 16-byte header, rounded
   * to a power of two), then a THREAD_SIZE-aligned 16 KiB stack, so nearly
   * 16 KiB of padding each; the run reports the heap used per task).
   */
  heapPerTask?: number;
  seed?: number;
  /** Guest time per runFor() step while waiting for the transition (default 100 ms). */
  stepNs?: bigint;
  /** Give up after this many steps (default 100 = 10 s of guest time). */
  maxSteps?: number;
  /** Progress lines (the standalone run prints them on stderr). */
  log?: (line: string) => void;
  /**
   * Also count the guest instructions boot spends per extra sleeper (two more
   * boots with countInstructions; each costs a fresh-engine flush, see
   * LIVEPATCH.md). Off by default.
   */
  bootInsns?: boolean;
}

/** Guest instructions of boot per extra sleeper (bootInsnsPerTask). */
export interface BootInsns {
  sleepers: number;
  /** Instructions per extra sleeper (countInstructions, both boots). */
  perTask: number;
  /** Of those, executions of memset's `rep stosq` / `rep stosb` blocks (one per iteration after the first). */
  repStosqPerTask: number;
  repStosbPerTask: number;
  /** Host ms per extra sleeper of the same two boots without counting. */
  msPerTask: number;
}

/** One measured patching transition. */
export interface TransitionSample {
  sleepers: number;
  tasks: number;
  heapSize: number;
  /** Guest heap used at BOOT_DONE (heap_next - heap_base). */
  heapUsed: number;
  /** createSystem(): bootKernel to BOOT_DONE, then ftrace/modules/livepatch/shell attached. */
  bootMs: number;
  bootGuestNs: bigint;
  /** The machine's first callGuest (done before the timed insmod, see firstCallNote). */
  firstCallMs: number;
  firstCallRssMiB: number;
  /** `insmod livepatch-sample.ko` through the shell (loads, klp_enable_patch, first attempt). */
  insmodMs: number;
  /** insmod until transition.patch is undefined. */
  transitionMs: number;
  transitionGuestNs: bigint;
  steps: number;
  attempts: number;
  stackChecks: number;
  /** Host time inside klpTryCompleteTransition (the attempts: every stack check). */
  attemptMs: number;
  /** Who blocked the first attempt. */
  firstBlocked: string;
}

/** Guest instructions of one callGuest, by function. */
export interface CallCount {
  total: number;
  byFunc: Map<string, number>;
  output: string;
}

export interface CallSample {
  unpatched: CallCount;
  patched: CallCount;
  /** livepatch_cmdline_proc_show called directly (the replacement without the redirection). */
  direct: CallCount;
  /** Repetitions per variant (all equal, checked). */
  reps: number;
}

export interface LivepatchResult {
  transitions: TransitionSample[];
  warmup: TransitionSample;
  calls: CallSample;
  bootInsns?: BootInsns;
  rows: Row[];
  /** Both tables, as printed by the standalone run. */
  report: string;
}

const KIB = 1024;
const MIB = 1024 * 1024;
const BASE_HEAP = Number(MemoryMap.DEFAULT_HEAP_SIZE);
/** struct seq_file as kernel-image/asm.inc lays it out (SEQ_*; no TS twin in src/abi/layout.ts). */
const SEQ = { buf: 0, size: 8, count: 16, SIZE: 24 } as const;
const SEQ_BUF_SIZE = 4096;
const PATCHED_OUTPUT = 'this has been live patched\n';

const rssMiB = (): number => process.memoryUsage().rss / MIB;
const ms = (ns: bigint): string => `${(Number(ns) / 1e6).toFixed(ns !== 0n && ns < 1_000_000n ? 3 : 0)} ms`;

/** livepatch-sample.ko assembled against the in-memory vmlinux (never a stale build/modules file). */
function buildSampleModule(image: KernelImage, dir: string): string {
  const src = moduleSources().find((s) => s.endsWith('/livepatch-sample.S'));
  if (!src) throw new Error('kernel-image/modules/livepatch-sample.S not found');
  const path = join(dir, 'livepatch-sample.ko');
  writeFileSync(path, buildModuleFile(src, image).ko);
  return path;
}

/** Every engine the machine creates, in order (the last one after a callGuest is its aux vCPU). */
class EngineLog {
  readonly engines: Engine[] = [];
  readonly factory = (): Engine => {
    const e = createEngine();
    this.engines.push(e);
    return e;
  };

  /** The engine callGuest runs on: created after the vCPUs, not one of them. */
  aux(sys: System): Engine {
    const e = this.engines[this.engines.length - 1];
    if (!e || sys.kernel.machine.vcpus.some((v) => v.engine === e)) throw new Error('no callGuest engine yet');
    return e;
  }
}

/** A seq_file in guest memory (kernel-image/asm.inc SEQ_*) with a 4 KiB buffer. */
class SeqFile {
  readonly addr: bigint;
  readonly buf: bigint;

  constructor(private readonly sys: System) {
    this.addr = sys.kernel.vmalloc.alloc(SEQ.SIZE + SEQ_BUF_SIZE, 16n);
    this.buf = this.addr + BigInt(SEQ.SIZE);
    const mem = sys.kernel.machine.mem;
    mem.writeU64(this.addr + BigInt(SEQ.buf), this.buf);
    mem.writeU64(this.addr + BigInt(SEQ.size), BigInt(SEQ_BUF_SIZE));
    this.reset();
  }

  reset(): void {
    this.sys.kernel.machine.mem.writeU64(this.addr + BigInt(SEQ.count), 0n);
  }

  text(): string {
    const mem = this.sys.kernel.machine.mem;
    const n = Number(mem.readU64(this.addr + BigInt(SEQ.count)));
    return mem.read(this.buf, Math.min(n, SEQ_BUF_SIZE)).toString('latin1');
  }

  /** fn(m, NULL) through callGuest; @returns what it printed */
  show(fn: bigint): string {
    this.reset();
    const ret = this.sys.kernel.callGuest(fn, [this.addr, 0n]);
    if (ret !== 0n) throw new Error(`show function returned ${ret}`);
    return this.text();
  }
}

/**
 * Count the instructions of `reps` calls of `fn` with a code hook on the
 * callGuest engine, attributed to kallsyms functions. The hook is removed and
 * the engine's translations dropped afterwards, so later runs carry no hook.
 */
function countCall(sys: System, aux: Engine, seq: SeqFile, fn: bigint, reps: number): CallCount {
  const ks = sys.kernel.kallsyms;
  const names = new Map<bigint, string>();
  let byFunc = new Map<string, number>();
  let total = 0;
  const hook: HookHandle = aux.addCodeHook((addr) => {
    let name = names.get(addr);
    if (name === undefined) {
      const s = ks.find(addr);
      name = s ? (s.obj === 'vmlinux' ? s.name : `${s.name} [${s.obj}]`) : `0x${addr.toString(16)}`;
      names.set(addr, name);
    }
    byFunc.set(name, (byFunc.get(name) ?? 0) + 1);
    total++;
  });
  let first: CallCount | undefined;
  try {
    for (let i = 0; i < reps; i++) {
      total = 0;
      byFunc = new Map();
      const output = seq.show(fn);
      const c: CallCount = { total, byFunc, output };
      if (!first) first = c;
      else if (c.total !== first.total || c.output !== first.output) throw new Error(`call ${i} ran ${c.total} instructions, call 0 ran ${first.total}`);
    }
  } finally {
    hook.remove();
    aux.tbFlush();
  }
  return first!;
}

/** Boot, warm the callGuest engine, insmod livepatch-sample.ko and run until the transition completes. */
class TransitionRun {
  readonly sys: System;
  readonly engines = new EngineLog();
  readonly seq: SeqFile;
  readonly sample: TransitionSample;

  constructor(image: KernelImage, sleepers: number, private readonly opts: Required<Omit<LivepatchBenchOptions, 'sizes' | 'log' | 'bootInsns'>>) {
    const heapSize = BASE_HEAP + sleepers * opts.heapPerTask;
    const t0 = performance.now();
    this.sys = createSystem({ cpus: 1, seed: opts.seed, image, nrSleepers: sleepers, heapSize, engineFactory: this.engines.factory });
    const bootMs = performance.now() - t0;
    const k = this.sys.kernel;
    const m = k.machine;
    const tasks = k.tasks().length;
    const heapUsed = Number(m.mem.readU64(k.sym('heap_next')) - MemoryMap.DIRECT_MAP);
    this.seq = new SeqFile(this.sys);
    // The first callGuest creates the aux engine; its first counted emuStart
    // flushes translations, which on Unicorn 2.0.1 commits the engine's whole
    // code buffer. Done here, outside the timed transition (insmod's doInit
    // would otherwise pay for it).
    const r0 = rssMiB();
    const t1 = performance.now();
    const out = this.seq.show(k.sym('cmdline_proc_show'));
    const firstCallMs = performance.now() - t1;
    if (!out.startsWith('BOOT_IMAGE=')) throw new Error(`cmdline_proc_show printed ${JSON.stringify(out)}`);
    this.sample = {
      sleepers, tasks, heapSize, heapUsed, bootMs, bootGuestNs: m.vcpus.reduce((a, v) => (v.timeNs > a ? v.timeNs : a), 0n),
      firstCallMs, firstCallRssMiB: rssMiB() - r0,
      insmodMs: 0, transitionMs: 0, transitionGuestNs: 0n, steps: 0, attempts: 0, stackChecks: 0, attemptMs: 0, firstBlocked: '',
    };
  }

  /** The timed part: insmod, then runFor(step) until transition.patch is undefined. */
  patch(ko: string): void {
    const { kernel: k, livepatch: lp, shell } = this.sys;
    const m = k.machine;
    const tr = lp.transition;
    const s = this.sample;
    // Time the attempts (host work: a reliable stack walk per task) without
    // touching src/: every caller goes through the instance property.
    const attempt = tr.klpTryCompleteTransition.bind(tr);
    tr.klpTryCompleteTransition = (): boolean => {
      const t = performance.now();
      try {
        return attempt();
      } finally {
        s.attemptMs += performance.now() - t;
        if (s.firstBlocked === '') s.firstBlocked = tr.blocked.map((b) => `${b.comm}:${b.pid} ${b.reason}`).join(', ') || 'none';
      }
    };
    const checks0 = tr.stackChecks;
    const attempts0 = tr.attempts;
    const g0 = m.nowNs;
    const t0 = performance.now();
    const r = shell.run(`insmod ${ko}`);
    s.insmodMs = performance.now() - t0;
    if (r.status !== 0) throw new Error(`insmod failed: ${r.err}`);
    while (tr.patch && s.steps < this.opts.maxSteps) {
      m.runFor(this.opts.stepNs);
      s.steps++;
    }
    s.transitionMs = performance.now() - t0;
    s.transitionGuestNs = m.nowNs - g0;
    s.attempts = tr.attempts - attempts0;
    s.stackChecks = tr.stackChecks - checks0;
    if (tr.patch) throw new Error(`transition not complete after ${ms(s.transitionGuestNs)} of guest time: ${tr.blocked.map((b) => `${b.comm}:${b.pid} ${b.reason}`).join(', ')}`);
    if (k.oopses.length) throw new Error(`oops: ${k.oopses.map((o) => o.text).join(', ')}`);
    const out = this.seq.show(k.sym('cmdline_proc_show'));
    if (out !== PATCHED_OUTPUT) throw new Error(`patched cmdline_proc_show printed ${JSON.stringify(out)}`);
  }

  close(): void {
    this.sys.kernel.machine.close();
  }
}

/** The ops trampoline (a copy of ftrace_regs_caller in the module area) and the livepatch handler. */
const isRedirect = (f: string): boolean => f.startsWith('ftrace_trampoline') || f === 'klp_ftrace_handler';

function funcLine(c: CallCount): string {
  return [...c.byFunc].map(([f, n]) => `${f} ${n}`).join(', ');
}

/** Sum of the instructions run in functions whose name matches. */
function inFuncs(c: CallCount, pred: (name: string) => boolean): number {
  let n = 0;
  for (const [f, k] of c.byFunc) if (pred(f)) n += k;
  return n;
}

function transitionTable(samples: readonly TransitionSample[]): string {
  const head = ['sleepers', 'tasks', 'heap MiB', 'boot ms', '1st call ms', 'insmod ms', 'transition ms', 'guest ms', 'steps', 'attempts', 'stack checks', 'checks/host s', 'in attempts ms', 'checks/s in attempts'];
  const cells = samples.map((s) => [
    s.sleepers.toLocaleString('en-US'), String(s.tasks), (s.heapSize / MIB).toFixed(0), s.bootMs.toFixed(0), s.firstCallMs.toFixed(0), s.insmodMs.toFixed(0),
    s.transitionMs.toFixed(0), (Number(s.transitionGuestNs) / 1e6).toFixed(0), String(s.steps), String(s.attempts), String(s.stackChecks),
    si(s.stackChecks / (s.transitionMs / 1000)), s.attemptMs.toFixed(1), si(s.stackChecks / (s.attemptMs / 1000)),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((x, i) => x.padStart(widths[i]!)).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

function callTable(c: CallSample): string {
  const redirect = inFuncs(c.patched, isRedirect);
  const rows: [string, string, string][] = [
    ['cmdline_proc_show, unpatched', String(c.unpatched.total), funcLine(c.unpatched)],
    ['cmdline_proc_show, patched', String(c.patched.total), funcLine(c.patched)],
    ['livepatch_cmdline_proc_show, called directly', String(c.direct.total), funcLine(c.direct)],
    ['redirection: patched - direct', String(c.patched.total - c.direct.total), `of which trampoline + klp_ftrace_handler ${redirect}, the call at the patched site 1`],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(5, ...rows.map((r) => r[1].length));
  return [`${'call'.padEnd(w0)}  ${'insns'.padStart(w1)}  by function`, ...rows.map((r) => `${r[0].padEnd(w0)}  ${r[1].padStart(w1)}  ${r[2]}`)].join('\n');
}

/**
 * Where boot time per sleeper goes: boot with 0 and `n` sleepers, counting
 * instructions (MachineOptions.countInstructions) and, with block hooks on
 * memset's `rep stosq` and `rep stosb` (one-instruction blocks run once per
 * iteration), how many of them are those; then the same two boots uncounted
 * for host time.
 */
export function bootInsnsPerTask(image: KernelImage, n = 200, seed = 1): BootInsns {
  const boot = (sleepers: number, count: boolean): { insns: bigint; stosq: number; stosb: number; ms: number } => {
    const heapSize = BASE_HEAP + sleepers * 32 * KIB;
    const t0 = performance.now();
    const k = bootKernel({ cpus: 1, seed, image, nrSleepers: sleepers, heapSize, countInstructions: count, noRun: true });
    const m = k.machine;
    let stosq = 0;
    let stosb = 0;
    if (count) {
      const memset = k.kallsyms.lookup('memset')!;
      const bytes = m.mem.read(memset.addr, memset.size);
      const q = bytes.indexOf(Buffer.from([0xf3, 0x48, 0xab])); // rep stosq
      const b = bytes.indexOf(Buffer.from([0xf3, 0xaa])); // rep stosb
      if (q < 0 && b < 0) throw new Error('memset has no rep stos');
      const e = m.vcpus[0]!.engine;
      if (q >= 0) {
        const rip = memset.addr + BigInt(q);
        e.addBlockHook((addr) => { if (addr === rip) stosq++; }, rip, rip);
      }
      if (b >= 0) {
        const rip = memset.addr + BigInt(b);
        e.addBlockHook((addr) => { if (addr === rip) stosb++; }, rip, rip);
      }
    }
    if (!m.runUntil(() => k.bootDone, { maxNs: 5_000_000_000n })) throw new Error('boot did not complete');
    const ms = performance.now() - t0;
    const insns = m.vcpus[0]!.insns;
    m.close();
    return { insns, stosq, stosb, ms };
  };
  const c0 = boot(0, true);
  const c1 = boot(n, true);
  // Host time: median of 5 uncounted boots of each size, interleaved.
  const ms0: number[] = [];
  const ms1: number[] = [];
  for (let i = 0; i < 5; i++) {
    ms0.push(boot(0, false).ms);
    ms1.push(boot(n, false).ms);
  }
  return { sleepers: n, perTask: Number(c1.insns - c0.insns) / n, repStosqPerTask: (c1.stosq - c0.stosq) / n, repStosbPerTask: (c1.stosb - c0.stosb) / n, msPerTask: (median(ms1) - median(ms0)) / n };
}

/**
 * Measure, in one process: a warm-up system (no sleepers) that also gives the
 * per-call instruction counts before and after the patch, then one patching
 * transition per size.
 */
export async function measureLivepatch(image: KernelImage, options: LivepatchBenchOptions = {}): Promise<LivepatchResult> {
  const sizes = options.sizes ?? [100, 1000, 10000];
  const opts = { heapPerTask: options.heapPerTask ?? 32 * KIB, seed: options.seed ?? 1, stepNs: options.stepNs ?? 100_000_000n, maxSteps: options.maxSteps ?? 100 };
  const log = options.log ?? ((): void => {});
  const dir = mkdtempSync(join(tmpdir(), 'klpemu-lpbench-'));
  try {
    const ko = buildSampleModule(image, dir);
    const reps = 3;

    // Warm-up system: JIT and library warm-up for the timed runs, and the call counts.
    log('livepatch: warm-up system (0 sleepers), instruction counts');
    const w = new TransitionRun(image, 0, opts);
    const cmdline = w.sys.kernel.sym('cmdline_proc_show');
    const aux = w.engines.aux(w.sys);
    const unpatched = countCall(w.sys, aux, w.seq, cmdline, reps);
    w.patch(ko);
    const patched = countCall(w.sys, aux, w.seq, cmdline, reps);
    const direct = countCall(w.sys, aux, w.seq, w.sys.kernel.sym('livepatch_cmdline_proc_show'), reps);
    if (!unpatched.output.startsWith('BOOT_IMAGE=') || patched.output !== PATCHED_OUTPUT || direct.output !== PATCHED_OUTPUT) {
      throw new Error(`unexpected output: ${JSON.stringify([unpatched.output, patched.output, direct.output])}`);
    }
    const baseTasks = w.sample.tasks;
    const baseHeap = w.sample.heapUsed;
    w.close();
    // A warm 0-sleeper boot (no callGuest, so no flush): the base of "ms per extra task".
    const tb = performance.now();
    createSystem({ cpus: 1, seed: opts.seed, image }).kernel.machine.close();
    const baseBootMs = performance.now() - tb;
    const calls: CallSample = { unpatched, patched, direct, reps };

    const transitions: TransitionSample[] = [];
    for (const n of sizes) {
      log(`livepatch: ${n} sleepers: boot`);
      const run = new TransitionRun(image, n, opts);
      try {
        if (run.sample.tasks !== baseTasks + n) {
          throw new Error(`${n} sleepers: ${run.sample.tasks} tasks after boot, expected ${baseTasks + n} (heap ${run.sample.heapSize} bytes too small? used ${run.sample.heapUsed})`);
        }
        log(`livepatch: ${n} sleepers: booted in ${run.sample.bootMs.toFixed(0)} ms, first callGuest ${run.sample.firstCallMs.toFixed(0)} ms; insmod + transition`);
        run.patch(ko);
        transitions.push(run.sample);
      } finally {
        run.close();
      }
    }

    const rows: Row[] = [];
    for (const s of transitions) {
      const perTask = s.sleepers ? (s.heapUsed - baseHeap) / s.sleepers : 0;
      rows.push({
        group: 'livepatch',
        what: `transition, ${s.sleepers.toLocaleString('en-US')} sleepers (${s.tasks} tasks)`,
        value: `${s.transitionMs.toFixed(0)} ms`,
        note: `guest ${ms(s.transitionGuestNs)}, ${s.attempts} attempts, ${s.stackChecks} stack checks = ${si(s.stackChecks / (s.transitionMs / 1000))}/host s (${si(s.stackChecks / (s.attemptMs / 1000))}/s inside the attempts, ${s.attemptMs.toFixed(1)} ms); insmod ${s.insmodMs.toFixed(0)} ms; first attempt blocked by ${s.firstBlocked}`,
      });
      rows.push({
        group: 'livepatch',
        what: `boot, ${s.sleepers.toLocaleString('en-US')} sleepers`,
        value: `${s.bootMs.toFixed(0)} ms`,
        note: `createSystem; ${s.sleepers ? `${((s.bootMs - baseBootMs) / s.sleepers).toFixed(2)} ms per extra task (0 sleepers: ${baseBootMs.toFixed(0)} ms), ` : ''}guest ${ms(s.bootGuestNs)}; heap ${(s.heapSize / MIB).toFixed(0)} MiB, ${(perTask / KIB).toFixed(1)} KiB used per task; first callGuest ${s.firstCallMs.toFixed(0)} ms, RSS +${s.firstCallRssMiB.toFixed(0)} MiB`,
      });
    }
    rows.push({ group: 'livepatch', what: `transition, warm-up (0 sleepers, ${w.sample.tasks} tasks)`, value: `${w.sample.transitionMs.toFixed(0)} ms`, note: `guest ${ms(w.sample.transitionGuestNs)}, ${w.sample.stackChecks} stack checks; boot ${w.sample.bootMs.toFixed(0)} ms; first callGuest ${w.sample.firstCallMs.toFixed(0)} ms, RSS +${w.sample.firstCallRssMiB.toFixed(0)} MiB` });
    const redirect = inFuncs(patched, isRedirect);
    rows.push(
      { group: 'livepatch', what: 'insns: cmdline_proc_show, unpatched', value: String(unpatched.total), note: funcLine(unpatched) },
      { group: 'livepatch', what: 'insns: cmdline_proc_show, patched', value: String(patched.total), note: funcLine(patched) },
      { group: 'livepatch', what: 'insns: livepatch_cmdline_proc_show, direct', value: String(direct.total), note: 'the replacement called directly: what the patched call runs without the redirection' },
      { group: 'livepatch', what: 'insns: redirection overhead per call', value: String(patched.total - direct.total), note: `patched - direct; trampoline + klp_ftrace_handler ${redirect} + the call at the patched site; patched - unpatched ${patched.total - unpatched.total} (the replacement body differs)` },
    );
    let bootInsns: BootInsns | undefined;
    if (options.bootInsns) {
      log('livepatch: boot instructions per sleeper (0 and 2,000 sleepers: 2 counted boots, 10 timed)');
      bootInsns = bootInsnsPerTask(image, 2000, opts.seed);
      const b = bootInsns;
      rows.push({
        group: 'livepatch',
        what: `boot: guest insns per extra sleeper`,
        value: b.perTask.toFixed(0),
        note: `${(b.repStosqPerTask + b.repStosbPerTask).toFixed(0)} of them iterations of memset's rep stosq / rep stosb (${b.repStosqPerTask.toFixed(0)} / ${b.repStosbPerTask.toFixed(0)}: kzalloc'd task, alloc_thread_stack_node's 16 KiB stack); ${b.msPerTask.toFixed(2)} host ms per sleeper${b.msPerTask > 0 ? ` = ${si(b.perTask / (b.msPerTask / 1000))} insn/s` : ''} (0 vs ${b.sleepers} sleepers, medians of 5 uncounted boots)`,
      });
    }
    const report = `patching transition (livepatch-sample.ko), 1 vCPU, deterministic, seed ${opts.seed}\n${transitionTable([w.sample, ...transitions])}\n\n`
      + `guest instructions per call (${reps} calls each, all equal; code hook on the callGuest engine)\n${callTable(calls)}`;
    return { transitions, warmup: w.sample, calls, bootInsns, rows, report };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** For the main bench runner: the rows only. */
export async function benchLivepatch(image: KernelImage, options: LivepatchBenchOptions = {}): Promise<Row[]> {
  return (await measureLivepatch(image, options)).rows;
}

async function main(): Promise<number> {
  const t0 = performance.now();
  const { image, linkMs } = benchImage();
  console.log(`klpemu livepatch bench — node ${process.version}; kernel-image/*.S linked in memory in ${linkMs.toFixed(0)} ms`);
  const args = process.argv.slice(2);
  const sizes = args.filter((a) => /^\d+$/.test(a)).map(Number);
  const r = await measureLivepatch(image, { sizes: sizes.length ? sizes : undefined, bootInsns: args.includes('--boot-insns'), log: (l) => process.stderr.write(`${l}\n`) });
  console.log('');
  console.log(r.report);
  console.log('');
  console.log(renderTable(r.rows));
  console.log('');
  console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s, peak RSS ${(process.resourceUsage().maxRSS / KIB).toFixed(0)} MiB`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = await main();
