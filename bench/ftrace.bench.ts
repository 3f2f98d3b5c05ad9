// ftrace.bench.ts - issue 3: host time per site of enabling/disabling every ftrace site on kernels with 1k-50k traceable functions,
// syncs per text_poke_bp batch, 50k/5k scaling, and the guest instructions an ops adds to a call

import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createEngine } from '../emu/index.ts';
import type { Engine, HookHandle } from '../emu/types.ts';
import { countInsns } from '../emu/machine/insnCount.ts';
import { FTRACE_OPS, FTRACE_OPS_FL, MemoryMap, THREAD_SIZE } from '../src/abi/layout.ts';
import { attachFtrace, ftraceCallInsn, type Ftrace, type Tracefs } from '../src/ftrace/index.ts';
import { bootKernel } from '../src/kernel/boot.ts';
import { Kallsyms } from '../src/kernel/kallsyms.ts';
import type { Kernel } from '../src/kernel/kernel.ts';
import { genFnName, kernelWithSites, type GenKernel } from './genKernel.ts';
import { median, renderTable, type Row } from './table.ts';

const TRACING = '/sys/kernel/tracing';
/** Untimed rounds before the measured ones: the JIT needs a few toggles of every size to settle (measured: 4-5). */
const WARMUP = 5;
/** A kernel toggles REP_SITES / sites times per round (1..5): 5 at 1,000 sites, 3 at 5,000, 2 at 10,000, 1 at 50,000. */
const REP_SITES = 15_000;
const G = 'ftrace';

export interface FtraceBenchOptions {
  /** Traceable functions in total per kernel (default 1,000, 5,000, 10,000, 50,000). */
  sites?: number[];
  /** Measured rounds (default 7), after WARMUP untimed ones; a round toggles every method on every kernel once. */
  rounds?: number;
  /** vCPUs of the booted kernels (default 2: every sync reaches two engines). */
  cpus?: number;
  seed?: number;
  /** Calls of gen_fn_0 per instruction-count run (default 1000). */
  calls?: number;
  /** Keep linked kernels in bench/.cache/ (default true). */
  cache?: boolean;
  log?: (line: string) => void;
}

/** One timed enable or disable. */
export interface Toggle {
  wallMs: number;
  /** Process CPU (user + system, every thread). */
  cpuMs: number;
  /** TextPoker.batches / .syncs deltas (text_poke_bp batches, text_poke_sync calls). */
  batches: number;
  syncs: number;
  /** Machine.syncCount delta (syncCore calls: text_poke_sync plus a trampoline free). */
  syncCores: number;
  /** Wall ms inside Machine.syncCore (measured by wrapping it on the instance). */
  syncMs: number;
  /** performance.now() at start and end. */
  t0: number;
  t1: number;
  /** Main-thread GC pauses inside [t0, t1] (PerformanceObserver 'gc' entries; filled by GcPauses.attribute()), and the major (mark-compact) part. */
  gcMs: number;
  gcMajorMs: number;
  /** GC pauses that overlapped the toggle. */
  gcCount: number;
}

export type Method = 'tracer' | 'ops';

const METHOD_NAME: Record<Method, string> = {
  tracer: 'function tracer',
  ops: 'ops + own trampoline',
};
const METHOD_HOW: Record<Method, string> = {
  tracer: "tracefs current_tracer 'function' / 'nop' (global ops: every site → call ftrace_caller)",
  ops: 'register_ftrace_function / unregister_ftrace_function of an ops with an empty filter and func = ftrace_stub (every site → call its trampoline; the trampoline is created on register and freed on unregister)',
};

export interface MethodSample {
  method: Method;
  /** The warm-up toggles (not in the medians; the first one is the first of this kernel). */
  warm: { enable: Toggle[]; disable: Toggle[] };
  enable: Toggle[];
  disable: Toggle[];
  /** What every site calls while enabled (verified on every record, and byte by byte on the warm-up). */
  target: string;
}

export interface KernelSample {
  sites: number;
  generated: number;
  mcount: GenKernel['mcount'];
  elfBytes: number;
  /** linkKernel wall ms; undefined when the ELF came from bench/.cache/. */
  linkMs: number | undefined;
  loadMs: number;
  /** new Kallsyms(image.symbols), wall ms (timed apart; bootKernel builds one too). */
  kallsymsMs: number;
  bootMs: number;
  attachMs: number;
  /** Function tracer entries written while the guest ran 10 ms with every site traced. */
  traceEntries: number;
  methods: MethodSample[];
}

/** Guest instructions of one call of gen_fn_0 under one ftrace configuration. */
export interface CallInsns {
  config: string;
  /** What the site at gen_fn_0 calls (checked against the record). */
  site: string;
  perCall: number;
  added: number;
  byFunc: Map<string, number>;
}

export interface FtraceResult {
  kernels: KernelSample[];
  insns: CallInsns[];
  /** Kernel the instruction counts were taken on. */
  insnSites: number;
  rows: Row[];
  report: string;
}

/** A full collection before each timed toggle, so one toggle does not pay for the garbage of the last. */
const collect: () => void = (() => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  setFlagsFromString('--expose_gc');
  return runInNewContext('gc') as () => void;
})();

/**
 * Main-thread GC pauses, from PerformanceObserver 'gc' entries. They arrive
 * asynchronously, so toggles are attributed after an await (attribute()).
 */
class GcPauses {
  private readonly entries: { start: number; end: number; major: boolean }[] = [];
  private readonly obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      this.entries.push({ start: e.startTime, end: e.startTime + e.duration, major: kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR });
    }
  });

  constructor() {
    this.obs.observe({ entryTypes: ['gc'] });
  }

  /**
   * Force one more collection and wait until its entry has been delivered
   * (entries arrive in order, so every earlier one has too), then set gcMs
   * and gcMajorMs of every toggle.
   */
  async attribute(toggles: Toggle[]): Promise<void> {
    const mark = performance.now();
    collect();
    for (let waited = 0; !this.entries.some((e) => e.start >= mark); waited += 10) {
      if (waited > 10_000) throw new Error('PerformanceObserver delivered no gc entry for a forced collection within 10 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const t of toggles) {
      t.gcMs = 0;
      t.gcMajorMs = 0;
      t.gcCount = 0;
      for (const e of this.entries) {
        if (e.end <= t.t0 || e.start >= t.t1) continue;
        const d = Math.min(e.end, t.t1) - Math.max(e.start, t.t0);
        t.gcMs += d;
        t.gcCount++;
        if (e.major) t.gcMajorMs += d;
      }
    }
  }

  close(): void {
    this.obs.disconnect();
  }
}

const fmt = (v: number, d = 1): string => v.toFixed(d);
const n3 = (v: number): string => v.toLocaleString('en-US');

function write(k: Kernel, file: string, value: string): void {
  const r = k.vfs.write(`${TRACING}/${file}`, value);
  if (r < 0) throw new Error(`write ${file} '${value}': ${r}`);
}

function must(r: number, what: string): void {
  if (r < 0) throw new Error(`${what}: ${r}`);
}

function textOf(k: Kernel): Buffer {
  const s = k.image.sections.find((x) => x.name === '.text')!;
  return Buffer.from(k.machine.mem.read(s.addr, s.size));
}

/** A zeroed ftrace_ops in guest memory with `func` and `flags`. */
function newOps(k: Kernel, func: bigint, flags = 0): bigint {
  const ops = k.vmalloc.alloc(FTRACE_OPS.SIZE, 16n);
  k.machine.mem.write(ops, new Uint8Array(FTRACE_OPS.SIZE));
  k.machine.mem.writeU64(ops + BigInt(FTRACE_OPS.func), func);
  k.machine.mem.writeU64(ops + BigInt(FTRACE_OPS.flags), BigInt(flags));
  return ops;
}

function healthy(k: Kernel, when: string): void {
  if (k.oopses.length) throw new Error(`kernel oops ${when}: ${k.oopses.map((o) => o.text).join(', ')}`);
}

/**
 * One method on one booted kernel: toggle() does one enable and one disable,
 * timed. Every enable must leave every record calling the expected target,
 * every disable the exact .text of before; after the first enable the call
 * bytes of every site are checked and the guest runs 10 ms traced. Between
 * toggles the guest runs 2 ms (untimed), so the vCPUs have translated text
 * again when the next sync drops it.
 */
class MethodRun {
  readonly enables: Toggle[] = [];
  readonly disables: Toggle[] = [];
  target = '';
  traceEntries = 0;
  private readonly ops: bigint;
  private readonly before: Buffer;

  constructor(private readonly kb: KernelRun, readonly method: Method) {
    this.ops = method === 'ops' ? newOps(kb.k, kb.k.sym('ftrace_stub')) : 0n;
    this.before = textOf(kb.k);
  }

  private enable(): void {
    if (this.method === 'tracer') write(this.kb.k, 'current_tracer', 'function');
    else must(this.kb.ft.registerFtraceFunction(this.ops), 'register_ftrace_function');
  }

  private disable(): void {
    if (this.method === 'tracer') write(this.kb.k, 'current_tracer', 'nop');
    else must(this.kb.ft.unregisterFtraceFunction(this.ops), 'unregister_ftrace_function');
  }

  private expected(): { addr: bigint; name: string } {
    const { k, ft } = this.kb;
    if (this.method === 'tracer') return { addr: k.sym('ftrace_caller'), name: 'call ftrace_caller' };
    const t = ft.ops.get(this.ops)?.trampoline;
    if (!t) throw new Error('registered ops has no trampoline');
    return { addr: t.addr, name: 'call ftrace_trampoline (its own)' };
  }

  toggle(): void {
    const { k, ft } = this.kb;
    const m = this.method;
    const first = this.enables.length === 0;
    this.enables.push(this.kb.timed(() => this.enable()));
    const exp = this.expected();
    this.target = exp.name;
    const wrong = ft.records.filter((x) => x.target !== exp.addr).length;
    if (wrong) throw new Error(`${m}: ${wrong} of ${ft.records.length} sites do not call ${exp.name} after enable`);
    if (first) {
      const mem = k.machine.mem;
      const bad = ft.records.filter((x) => !mem.read(x.ip, 5).equals(Buffer.from(ftraceCallInsn(x.ip, exp.addr)))).length;
      if (bad) throw new Error(`${m}: ${bad} sites do not hold the call bytes after enable`);
      const head = k.sym('trace_ring_head');
      const h0 = mem.readU64(head);
      k.machine.runFor(10_000_000n);
      healthy(k, `with every site traced (${m})`);
      if (m === 'tracer') {
        this.traceEntries = Number(mem.readU64(head) - h0);
        if (this.traceEntries === 0) throw new Error('function tracer on every site wrote no trace entry in 10 ms of guest time');
      }
    } else k.machine.runFor(2_000_000n);
    this.disables.push(this.kb.timed(() => this.disable()));
    if (ft.records.some((x) => x.target !== 0n)) throw new Error(`${m}: sites still enabled after disable`);
    if (!textOf(k).equals(this.before)) throw new Error(`${m}: .text differs from before the enable after disable (toggle ${this.enables.length})`);
    if (m === 'tracer' && this.kb.tfs.currentTracer !== 'nop') throw new Error('current_tracer is not nop after disable');
    k.machine.runFor(2_000_000n);
    healthy(k, `after disable (${m})`);
  }

  /** Toggles per round: the kernel's. */
  get reps(): number {
    return this.kb.reps;
  }

  sample(warmupRounds: number): MethodSample {
    const w = warmupRounds * this.reps;
    return {
      method: this.method, target: this.target,
      warm: { enable: this.enables.slice(0, w), disable: this.disables.slice(0, w) },
      enable: this.enables.slice(w), disable: this.disables.slice(w),
    };
  }
}

/** One bench kernel: linked (or cached), booted, ftrace attached, and its two methods. */
class KernelRun {
  readonly k: Kernel;
  readonly ft: Ftrace;
  readonly tfs: Tracefs;
  readonly methods: MethodRun[];
  readonly g: GenKernel;
  readonly kallsymsMs: number;
  readonly bootMs: number;
  readonly attachMs: number;
  /** Toggles per method and round: short toggles of small kernels are repeated (REP_SITES / sites, 1..5) for a steadier median. */
  readonly reps: number;
  /** Wall ms inside Machine.syncCore (tbRemoveCache on every vCPU engine) during the current toggle. */
  private syncMs = 0;

  constructor(readonly sites: number, o: Required<Omit<FtraceBenchOptions, 'sites' | 'log'>>, log: (l: string) => void) {
    const g = kernelWithSites(sites, { cache: o.cache });
    this.g = g;
    this.reps = Math.min(5, Math.max(1, Math.round(REP_SITES / sites)));
    log(`ftrace: ${n3(sites)} sites: kernel ${g.linkMs === undefined ? 'from bench/.cache' : `linked in ${fmt(g.linkMs, 0)} ms`} (${g.mcount} __mcount_loc, ${fmt(g.elfBytes / 1024, 0)} KiB)`);
    const tk = performance.now();
    new Kallsyms(g.image.symbols);
    this.kallsymsMs = performance.now() - tk;
    const t0 = performance.now();
    this.k = bootKernel({ image: g.image, cpus: o.cpus, seed: o.seed });
    this.bootMs = performance.now() - t0;
    const t1 = performance.now();
    const { ftrace, tracefs } = attachFtrace(this.k);
    this.attachMs = performance.now() - t1;
    this.ft = ftrace;
    this.tfs = tracefs;
    if (ftrace.records.length !== sites) throw new Error(`ftrace_init made ${ftrace.records.length} records, expected ${sites}`);
    if (ftrace.disabled) throw new Error('ftrace_bug at ftrace_init');
    // Time the syncs from the bench, without touching src/: every caller goes through the instance property.
    const m = this.k.machine;
    const sync = m.syncCore.bind(m);
    m.syncCore = (lo: bigint, hi: bigint): void => {
      const t = performance.now();
      try {
        sync(lo, hi);
      } finally {
        this.syncMs += performance.now() - t;
      }
    };
    m.runFor(20_000_000n); // the vCPUs translate the hot text: a sync then has blocks to drop
    healthy(this.k, 'after boot');
    this.methods = (['tracer', 'ops'] as const).map((x) => new MethodRun(this, x));
    log(`ftrace: ${n3(sites)} sites: booted in ${fmt(this.bootMs, 0)} ms`);
  }

  /** Wall and process CPU of `fn` after a full GC, with the poke and sync counters. */
  timed(fn: () => void): Toggle {
    const { k, ft } = this;
    collect();
    const b0 = ft.poker.batches;
    const s0 = ft.poker.syncs;
    const c0 = k.machine.syncCount;
    this.syncMs = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    const t1 = performance.now();
    const c = process.cpuUsage(cpu0);
    return { wallMs: t1 - t0, cpuMs: (c.user + c.system) / 1000, batches: ft.poker.batches - b0, syncs: ft.poker.syncs - s0, syncCores: k.machine.syncCount - c0, syncMs: this.syncMs, t0, t1, gcMs: 0, gcMajorMs: 0, gcCount: 0 };
  }

  sample(warmup: number): KernelSample {
    const g = this.g;
    return {
      sites: this.sites, generated: g.generated, mcount: g.mcount, elfBytes: g.elfBytes, linkMs: g.linkMs, loadMs: g.loadMs, kallsymsMs: this.kallsymsMs,
      bootMs: this.bootMs, attachMs: this.attachMs, traceEntries: this.methods[0]!.traceEntries, methods: this.methods.map((m) => m.sample(warmup)),
    };
  }

  close(): void {
    this.k.machine.close();
  }
}

/**
 * Counts guest instructions of gen_bench_loop(fn, n) on a private engine
 * sharing the machine's memory (CPU 0's GDT/IDT/GS base, its own vmalloc
 * stack), with a block hook (capstone count per translated block), attributed
 * to kallsyms functions. The machine's vCPUs are untouched; the engine's
 * translations are flushed before each run (its text may have been patched).
 */
class CallCounter {
  private readonly e: Engine;
  private readonly hooks: HookHandle[];
  private readonly stackTop: bigint;
  private blocks = new Map<string, { n: number; name: string }>();
  private byFunc = new Map<string, number>();
  /** Wall ms of the engine's creation and first flush (adding the block hook). */
  readonly setupMs: number;

  constructor(private readonly k: Kernel) {
    const t0 = performance.now();
    this.e = createEngine();
    k.machine.mem.mapInto(this.e);
    const cpu0 = k.machine.vcpus[0]!.engine;
    this.e.gdtrWrite(cpu0.gdtrRead());
    this.e.idtrWrite(cpu0.idtrRead());
    this.e.regWrite('gs_base', cpu0.regRead('gs_base'));
    this.stackTop = k.vmalloc.alloc(THREAD_SIZE, 4096n) + BigInt(THREAD_SIZE);
    this.hooks = [
      this.e.addBlockHook((addr, size) => {
        const key = `${addr}:${size}`;
        let b = this.blocks.get(key);
        if (!b) {
          const s = k.kallsyms.find(addr);
          b = { n: countInsns(k.machine.mem.read(addr, size)), name: s ? (s.obj === 'vmlinux' ? s.name : `${s.name} [${s.obj}]`) : `0x${addr.toString(16)}` };
          this.blocks.set(key, b);
        }
        this.byFunc.set(b.name, (this.byFunc.get(b.name) ?? 0) + b.n);
      }),
      this.e.addInterruptHook((intno) => {
        throw new Error(`unexpected interrupt ${intno} at 0x${this.e.regRead('rip').toString(16)}`);
      }),
    ];
    this.setupMs = performance.now() - t0;
  }

  private run(fn: bigint, n: number): Map<string, number> {
    this.e.tbFlush();
    this.blocks = new Map();
    this.byFunc = new Map();
    const ret = MemoryMap.MODULES_VADDR; // never executed: callGuest's return stub page
    const sp = this.stackTop - 8n;
    this.k.machine.mem.writeU64(sp, ret);
    this.e.regWriteBatch(['rdi', 'rsi', 'rsp', 'rbp', 'rflags'], [fn, BigInt(n), sp, 0n, 2n]);
    this.e.emuStart(this.k.sym('gen_bench_loop'), ret, 0, 0);
    if (this.e.regRead('rip') !== ret) throw new Error(`gen_bench_loop stopped at 0x${this.e.regRead('rip').toString(16)}`);
    return this.byFunc;
  }

  /** Per call: the difference of `2n` and `n` calls cancels the loop's own entry and exit. */
  perCall(fn: bigint, n: number): { total: number; byFunc: Map<string, number> } {
    const a = this.run(fn, n);
    const b = this.run(fn, 2 * n);
    const byFunc = new Map<string, number>();
    let total = 0;
    for (const [f, c] of b) {
      const d = (c - (a.get(f) ?? 0)) / n;
      if (d !== 0) byFunc.set(f, d);
      total += d;
    }
    if (!Number.isInteger(total)) throw new Error(`gen_fn_0 does not run a fixed number of instructions per call: ${total}`);
    return { total, byFunc };
  }

  close(): void {
    for (const h of this.hooks) h.remove();
    this.e.close();
  }
}

/** gen_fn_0 untraced and under each configuration; every ops is unregistered and the text restored at the end. */
function insnBench(k: Kernel, ft: Ftrace, calls: number, log: (l: string) => void): CallInsns[] {
  const fn0 = k.sym(genFnName(0));
  const fn1 = k.sym(genFnName(1));
  const rec = ft.records.find((r) => r.ip === fn0);
  if (!rec) throw new Error('gen_fn_0 is not a traceable site');
  const stub = k.sym('ftrace_stub');
  const counter = new CallCounter(k);
  log(`ftrace: instruction counter engine ready in ${fmt(counter.setupMs, 0)} ms`);
  const out: CallInsns[] = [];
  const siteName = (): string => (rec.target === 0n ? 'nop' : `call ${k.kallsyms.find(rec.target)?.name ?? rec.target.toString(16)}`);
  let off = 0;
  const measure = (config: string, site: string): void => {
    if (siteName() !== site) throw new Error(`${config}: the site calls ${siteName()}, expected ${site}`);
    const c = counter.perCall(fn0, calls);
    if (out.length === 0) off = c.total;
    out.push({ config, site, perCall: c.total, added: c.total - off, byFunc: c.byFunc });
  };
  const text0 = textOf(k);
  try {
    measure('untraced', 'nop');
    // One ops on the site: its own trampoline (a copy of ftrace_caller) calls func directly.
    const a = newOps(k, stub);
    must(ft.ftraceSetFilterIp(a, fn0, false, true), 'ftrace_set_filter_ip');
    must(ft.registerFtraceFunction(a), 'register_ftrace_function');
    measure('1 ops (func ftrace_stub): its own trampoline', 'call ftrace_trampoline');
    must(ft.unregisterFtraceFunction(a), 'unregister_ftrace_function');
    // The same with SAVE_REGS: a copy of ftrace_regs_caller (full pt_regs), what livepatch uses.
    const r = newOps(k, stub, FTRACE_OPS_FL.SAVE_REGS);
    must(ft.ftraceSetFilterIp(r, fn0, false, true), 'ftrace_set_filter_ip');
    must(ft.registerFtraceFunction(r), 'register_ftrace_function');
    measure('1 ops with SAVE_REGS (func ftrace_stub): its own trampoline', 'call ftrace_trampoline');
    must(ft.unregisterFtraceFunction(r), 'unregister_ftrace_function');
    // Two ops on the site: ftrace_caller -> ftrace_ops_list_func walks the list, checks each filter, calls each func.
    const b = newOps(k, stub);
    must(ft.ftraceSetFilterIp(b, fn0, false, true), 'ftrace_set_filter_ip');
    must(ft.registerFtraceFunction(a), 'register_ftrace_function');
    must(ft.registerFtraceFunction(b), 'register_ftrace_function');
    measure('2 ops on the site (func ftrace_stub): list function', 'call ftrace_caller');
    must(ft.unregisterFtraceFunction(b), 'unregister_ftrace_function');
    must(ft.unregisterFtraceFunction(a), 'unregister_ftrace_function');
    // The function tracer alone: ftrace_caller's slot calls function_trace_call directly (one trace entry per call).
    write(k, 'set_ftrace_filter', genFnName(0));
    write(k, 'current_tracer', 'function');
    measure('function tracer (set_ftrace_filter gen_fn_0), the only ops', 'call ftrace_caller');
    // A second ops elsewhere (gen_fn_1): ftrace_caller now goes through the list function, which calls only the tracer here.
    must(ft.ftraceSetFilterIp(b, fn1, false, true), 'ftrace_set_filter_ip');
    must(ft.registerFtraceFunction(b), 'register_ftrace_function');
    measure('function tracer + 1 ops on gen_fn_1: list function', 'call ftrace_caller');
    must(ft.unregisterFtraceFunction(b), 'unregister_ftrace_function');
    write(k, 'current_tracer', 'nop');
    write(k, 'set_ftrace_filter', '');
    measure('untraced again (everything unregistered)', 'nop');
  } finally {
    counter.close();
  }
  if (out.at(-1)!.perCall !== out[0]!.perCall) throw new Error('untraced call count changed after unregistering');
  if (!textOf(k).equals(text0)) throw new Error('.text differs after the instruction configurations');
  healthy(k, 'after the instruction counts');
  return out;
}

const med = (ts: readonly Toggle[], key: 'wallMs' | 'cpuMs' | 'gcMs' | 'gcMajorMs' | 'gcCount' | 'syncMs' | 'noGcMs'): number => median(ts.map((t) => (key === 'noGcMs' ? t.wallMs - t.gcMs : t[key])));
const range = (ts: readonly Toggle[]): string => `${fmt(Math.min(...ts.map((t) => t.wallMs)))}..${fmt(Math.max(...ts.map((t) => t.wallMs)))}`;
const all = (m: MethodSample): Toggle[] => [...m.warm.enable, ...m.warm.disable, ...m.enable, ...m.disable];
/** Batches per toggle, when every toggle of the sample had the same count. */
function perToggle(m: MethodSample, key: 'batches' | 'syncs' | 'syncCores', which: 'enable' | 'disable'): string {
  const vs = new Set([...m.warm[which], ...m[which]].map((t) => t[key]));
  return [...vs].join('/');
}

function table(head: string[], cells: string[][], leftCols = 1): string {
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((x, i) => (i < leftCols ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

interface Scaling {
  method: Method;
  big: number;
  small: number;
  siteRatio: number;
  enable: number;
  disable: number;
  enableCpu: number;
  disableCpu: number;
  /** Wall time minus main-thread GC pauses. */
  enableNoGc: number;
  disableNoGc: number;
}

function scalingOf(kernels: readonly KernelSample[]): Scaling[] {
  const small = kernels.find((k) => k.sites === 5000);
  const big = kernels.filter((k) => k.sites > 5000).sort((a, b) => a.sites - b.sites).at(-1);
  if (!small || !big) return [];
  return (['tracer', 'ops'] as const).map((method) => {
    const s = small.methods.find((m) => m.method === method)!;
    const b = big.methods.find((m) => m.method === method)!;
    return {
      method, big: big.sites, small: small.sites, siteRatio: big.sites / small.sites,
      enable: med(b.enable, 'wallMs') / med(s.enable, 'wallMs'), disable: med(b.disable, 'wallMs') / med(s.disable, 'wallMs'),
      enableCpu: med(b.enable, 'cpuMs') / med(s.enable, 'cpuMs'), disableCpu: med(b.disable, 'cpuMs') / med(s.disable, 'cpuMs'),
      enableNoGc: med(b.enable, 'noGcMs') / med(s.enable, 'noGcMs'), disableNoGc: med(b.disable, 'noGcMs') / med(s.disable, 'noGcMs'),
    };
  });
}

/** Linear within ±25 % of the site ratio. */
const linearity = (ratio: number, sites: number): string => (ratio <= sites * 1.25 && ratio >= sites / 1.25 ? 'linear' : ratio > sites ? 'SUPERLINEAR' : 'sublinear');

function byFuncLine(c: CallInsns): string {
  return [...c.byFunc].map(([f, n]) => `${f} ${n}`).join(', ');
}

function render(kernels: readonly KernelSample[], insns: readonly CallInsns[], insnSites: number, rounds: number): { rows: Row[]; report: string } {
  const rows: Row[] = [];
  const parts: string[] = [];
  // Kernels.
  parts.push(table(
    ['sites', '__mcount_loc', 'ELF KiB', 'link ms', 'new Kallsyms ms', 'boot ms', 'ftrace_init ms', 'trace entries / 10 ms'],
    kernels.map((k) => [n3(k.sites), k.mcount, fmt(k.elfBytes / 1024, 0), k.linkMs === undefined ? 'cached' : fmt(k.linkMs, 0), fmt(k.kallsymsMs, 1), fmt(k.bootMs, 0), fmt(k.attachMs, 1), String(k.traceEntries)]),
  ));
  // Toggles.
  const cells: string[][] = [];
  for (const k of kernels) {
    for (const m of k.methods) {
      cells.push([
        n3(k.sites), METHOD_NAME[m.method], fmt(med(m.enable, 'wallMs')), range(m.enable), fmt(med(m.disable, 'wallMs')), range(m.disable),
        fmt((med(m.enable, 'wallMs') * 1000) / k.sites, 2), fmt((med(m.disable, 'wallMs') * 1000) / k.sites, 2),
        fmt(med(m.enable, 'cpuMs')), fmt(med(m.disable, 'cpuMs')), `${fmt(med(m.enable, 'gcMs'))} / ${med(m.enable, 'gcCount')} (${fmt(med(m.enable, 'gcMajorMs'))})`, `${fmt(med(m.disable, 'gcMs'))} / ${med(m.disable, 'gcCount')} (${fmt(med(m.disable, 'gcMajorMs'))})`, fmt(med(m.enable, 'syncMs'), 2), fmt(med(m.disable, 'syncMs'), 2), fmt(m.warm.enable[0]!.wallMs), perToggle(m, 'batches', 'enable'),
        fmt(all(m).reduce((a, t) => a + t.syncs, 0) / all(m).reduce((a, t) => a + t.batches, 0), 2), `${perToggle(m, 'syncCores', 'enable')} / ${perToggle(m, 'syncCores', 'disable')}`,
      ]);
    }
  }
  const reps = kernels.map((k) => `${n3(k.sites)}: ${k.methods[0]!.enable.length / rounds}`).join(', ');
  parts.push(`enable / disable every site: wall ms, median of ${rounds} interleaved rounds after ${WARMUP} warm-up rounds (toggles per round and method: ${reps}) (range), per site = median / sites; CPU = process CPU (all threads); GC = main-thread GC pauses inside the toggle (of which mark-compact), syncCore = time in Machine.syncCore (medians)\n` + table(
    ['sites', 'method', 'enable ms', '(range)', 'disable ms', '(range)', 'enable µs/site', 'disable µs/site', 'enable CPU ms', 'disable CPU ms', 'enable GC ms / pauses (major ms)', 'disable GC ms / pauses (major ms)', 'enable syncCore ms', 'disable syncCore ms', 'first enable ms', 'batches', 'syncs/batch', 'syncCore en/dis'],
    cells, 2,
  ));
  const scaling = scalingOf(kernels);
  if (scaling.length) {
    parts.push(`scaling ${n3(scaling[0]!.big)} / ${n3(scaling[0]!.small)} sites (linear = ${fmt(scaling[0]!.siteRatio, 2)}), ratio of the medians\n` + table(
      ['method', 'enable (wall)', 'disable (wall)', 'enable (CPU)', 'disable (CPU)', 'enable (wall - GC)', 'disable (wall - GC)'],
      scaling.map((s) => [METHOD_NAME[s.method], fmt(s.enable, 2), fmt(s.disable, 2), fmt(s.enableCpu, 2), fmt(s.disableCpu, 2), fmt(s.enableNoGc, 2), fmt(s.disableNoGc, 2)]),
    ));
  }
  if (insns.length) {
    parts.push(`guest instructions per call of gen_fn_0 (${n3(insnSites)}-site kernel; gen_bench_loop 2n - n calls, block hook + capstone)\n` + table(
      ['configuration', 'site', 'insns/call', 'added', 'by function'],
      insns.map((c) => [c.config, c.site, String(c.perCall), c.added ? `+${c.added}` : '0', byFuncLine(c)]),
      2,
    ));
  }

  for (const k of kernels) {
    for (const m of k.methods) {
      const e = med(m.enable, 'wallMs');
      const d = med(m.disable, 'wallMs');
      rows.push({
        group: G,
        what: `${METHOD_NAME[m.method]}, ${n3(k.sites)} sites: enable / disable`,
        value: `${fmt((e * 1000) / k.sites, 2)} / ${fmt((d * 1000) / k.sites, 2)} µs/site`,
        note: `wall ${fmt(e)} / ${fmt(d)} ms (median of ${m.enable.length}; CPU ${fmt(med(m.enable, 'cpuMs'))} / ${fmt(med(m.disable, 'cpuMs'))} ms; GC pauses ${fmt(med(m.enable, 'gcMs'))} / ${fmt(med(m.disable, 'gcMs'))} ms (mark-compact ${fmt(med(m.enable, 'gcMajorMs'))} / ${fmt(med(m.disable, 'gcMajorMs'))}), in syncCore ${fmt(med(m.enable, 'syncMs'), 2)} / ${fmt(med(m.disable, 'syncMs'), 2)} ms); ${perToggle(m, 'batches', 'enable')} text_poke_bp batches per toggle; every site → ${m.target}`,
      });
    }
  }
  const toggles = kernels.flatMap((k) => k.methods.flatMap(all));
  const batches = toggles.reduce((a, t) => a + t.batches, 0);
  const syncs = toggles.reduce((a, t) => a + t.syncs, 0);
  const bad = toggles.filter((t) => t.syncs !== 3 * t.batches).length;
  rows.push({
    group: G,
    what: 'syncs per text_poke_bp batch',
    value: fmt(syncs / batches, 2),
    target: `= 3 (kernel)  ${bad === 0 ? 'PASS' : 'MISS'}`,
    note: `${n3(syncs)} text_poke_sync over ${n3(batches)} batches in ${toggles.length} toggles (${bad} toggles off 3/batch); each is one Machine.syncCore (tbRemoveCache on every vCPU engine); an ops disable adds 1 syncCore (its trampoline freed)`,
  });
  for (const s of scaling) {
    rows.push({
      group: G,
      what: `time ratio ${n3(s.big)} / ${n3(s.small)} sites, ${METHOD_NAME[s.method]}`,
      value: `${fmt(s.enable, 2)} / ${fmt(s.disable, 2)}`,
      target: `≈ ${fmt(s.siteRatio, 0)} (linear)  ${linearity(s.enable, s.siteRatio) === 'linear' && linearity(s.disable, s.siteRatio) === 'linear' ? 'PASS' : 'MISS'}`,
      note: `enable / disable, ratio of wall medians (CPU: ${fmt(s.enableCpu, 2)} / ${fmt(s.disableCpu, 2)}; wall without GC pauses: ${fmt(s.enableNoGc, 2)} / ${fmt(s.disableNoGc, 2)}); PASS = both wall ratios within ±25 % of ${fmt(s.siteRatio, 0)}`,
    });
  }
  for (const c of insns.slice(0, -1)) {
    rows.push({
      group: G,
      what: `insns per call of gen_fn_0: ${c.config}`,
      value: c.added ? `+${c.added}` : String(c.perCall),
      note: `${c.added ? `${c.perCall} per call (untraced ${c.perCall - c.added}); ` : 'per call, incl. the loop driving it; '}site: ${c.site}; ${byFuncLine(c)}`,
    });
  }
  for (const k of kernels) {
    rows.push({
      group: G,
      what: `kernel, ${n3(k.sites)} sites: boot`,
      value: `${fmt(k.bootMs, 0)} ms`,
      note: `bootKernel (2 vCPUs); new Kallsyms(image.symbols) timed apart ${fmt(k.kallsymsMs, 1)} ms; ftrace_init ${fmt(k.attachMs, 1)} ms (${n3(k.sites)} records); link ${k.linkMs === undefined ? 'cached' : `${fmt(k.linkMs, 0)} ms`} (${k.mcount} __mcount_loc)`,
    });
  }
  return { rows, report: parts.join('\n\n') };
}

/** The whole benchmark, in one process. */
export async function measureFtrace(options: FtraceBenchOptions = {}): Promise<FtraceResult> {
  const sites = options.sites ?? [1000, 5000, 10000, 50000];
  const o = {
    rounds: options.rounds ?? 7, cpus: options.cpus ?? 2, seed: options.seed ?? 1, calls: options.calls ?? 1000,
    cache: options.cache ?? true,
  };
  const log = options.log ?? ((): void => {});
  const runs: KernelRun[] = [];
  let insns: CallInsns[] = [];
  const gc = new GcPauses();
  try {
    for (const n of sites) runs.push(new KernelRun(n, o, log));
    // Interleaved rounds over every kernel and method, the order rotated each round, so the
    // JIT state and the host's drift are shared by all sizes; the first WARMUP rounds are untimed.
    const units = runs.flatMap((r) => r.methods);
    for (let round = 0; round < WARMUP + o.rounds; round++) {
      log(`ftrace: ${round < WARMUP ? 'warm-up' : 'measured'} round ${round + 1} of ${WARMUP + o.rounds}`);
      for (let i = 0; i < units.length; i++) {
        const u = units[(i + round) % units.length]!;
        for (let r = 0; r < u.reps; r++) u.toggle();
      }
    }
    await gc.attribute(units.flatMap((u) => [...u.enables, ...u.disables]));
    if (runs[0]) insns = insnBench(runs[0].k, runs[0].ft, o.calls, log);
  } finally {
    gc.close();
    for (const r of runs) r.close();
  }
  const kernels = runs.map((r) => r.sample(WARMUP));
  const insnSites = runs[0]?.sites ?? 0;
  const { rows, report } = render(kernels, insns, insnSites, o.rounds);
  return { kernels, insns, insnSites, rows, report };
}

/** For the main bench runner: the rows only. */
export async function benchFtrace(options: FtraceBenchOptions = {}): Promise<Row[]> {
  return (await measureFtrace(options)).rows;
}

async function main(): Promise<number> {
  const t0 = performance.now();
  const args = process.argv.slice(2);
  const sites = args.filter((a) => /^\d+$/.test(a)).map(Number);
  console.log(`klpemu ftrace bench — node ${process.version}`);
  const r = await measureFtrace({ ...(sites.length ? { sites } : {}), cache: !args.includes('--no-cache'), log: (l) => process.stderr.write(`${l}\n`) });
  console.log('');
  console.log(r.report);
  console.log('');
  console.log(renderTable(r.rows));
  console.log('');
  console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await main();
