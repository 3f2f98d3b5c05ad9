// machine.ts - the SMP machine: vCPU engines over shared memory, slices, hooks, time

import type { Engine, HookHandle, MemAccess } from '../types.ts';
import { Prot } from '../types.ts';
import { createEngine } from '../engine.ts';
import { EmuError } from '../errors.ts';
import { GuestMemory } from './memory.ts';
import { Vcpu } from './vcpu.ts';
import { Prng } from './prng.ts';
import { HypercallTable, HYPERCALL_VECTOR } from './hypercalls.ts';
import { deliver, deliverPageFault, interruptsEnabled, isContributory } from './interrupts.ts';
import { errorCodeOffset, oldExceptionOffset, readErrorCode, resetOldException } from './escalation.ts';
import { Clock, Vector, VECTORS_WITH_ERROR_CODE } from '../../src/abi/layout.ts';
import { countInsns } from './insnCount.ts';
import { syscallRipBias } from './syscallBias.ts';
import { GuestCaller, type GuestCallOptions } from './guestCall.ts';
import { STOP_STUB, type MachineOptions, type MachineSnapshot, type RunMode, type SnapshotParticipant } from './options.ts';

export { STOP_STUB };
export type { MachineOptions, MachineSnapshot, RunMode, SnapshotParticipant };

interface HostTimer {
  at: bigint;
  seq: number;
  fn: () => void;
}

const TICK_NS = BigInt(Clock.TICK_NS);
const RFLAGS_IF = 1n << 9n;
const NS_PER_EVENT = BigInt(Clock.NS_PER_EVENT);
const MSR_LSTAR = 0xc0000082;
const MSR_SYSCALL_MASK = 0xc0000084;
/**
 * Blocks run in a countBlocksAsEvents range that make one guest event: a
 * loop there with no event of its own (a bare `pause` or `jmp .`) still ends
 * its slice and lets guest time, and so the tick, advance.
 */
export const BLOCKS_PER_EVENT = 1024;
/** Free mode: syscalls the native hook runs between two looks by the machine (wall-clock slice end, see countEvent). */
const NATIVE_SYSCALL_BATCH = 64;

/**
 * The machine. Composition follows Qiling: memory, vCPUs, a hypercall table,
 * host timers on guest time; the layers above (kernel boot, ftrace, livepatch,
 * debugger) attach through hypercalls, slice listeners and snapshot participants.
 */
export class Machine {
  readonly mem = new GuestMemory();
  readonly vcpus: Vcpu[] = [];
  readonly hypercalls = new HypercallTable();
  readonly mode: RunMode;
  readonly seed: number;
  readonly prng: Prng;
  nowNs = 0n;
  consoleOut = '';
  /** Set when the guest panics; the machine stops running. */
  panicMessage: string | undefined;
  /** The vCPU currently inside emuStart, if any. */
  current: Vcpu | undefined;
  /** syncCore() calls (each one drops translations on every vCPU). */
  syncCount = 0;
  /** Called before every slice (e.g. to publish guest time into the per-CPU area). */
  readonly beforeSlice: ((v: Vcpu) => void)[] = [];
  /** Called after every slice. */
  readonly afterSlice: ((v: Vcpu) => void)[] = [];
  /**
   * The kernel stack an interrupt or exception from user code switches to
   * (TSS.RSP0 on real hardware); undefined keeps the current stack.
   */
  rsp0: ((v: Vcpu) => bigint | undefined) | undefined;
  /** Called for every exception/interrupt delivered: (vcpu, vector, rip). */
  readonly onDeliver: ((v: Vcpu, vector: number, rip: bigint) => void)[] = [];
  private readonly participants = new Map<string, SnapshotParticipant>();
  private timers: HostTimer[] = [];
  private timerSeq = 0;
  private readonly sliceMin: number;
  private readonly sliceMax: number;
  private readonly freeSliceUs: number;
  private readonly watchdogUs: number;
  readonly countInstructions: boolean;
  /** Instructions per translated block, by block address (countInstructions). */
  /** Instruction count of each translated block seen, with its size (for syncCore). */
  private readonly blockInsns = new Map<bigint, { n: number; size: number }>();
  private readonly excOffset: number | null;
  private readonly errOffset: number | null;
  private readonly syscallBias: bigint;
  private readonly hooks: HookHandle[] = [];
  /** Ranges whose blocks count as events, installed on every scheduled vCPU. */
  private readonly blockEventRanges: { begin: bigint; end: bigint }[] = [];
  private readonly factory: () => Engine;
  private readonly guestCalls: GuestCaller;

  constructor(opts: MachineOptions = {}) {
    const cpus = opts.cpus ?? 1;
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 8) {
      throw new EmuError('input', `cpus must be 1..8, got ${cpus}`);
    }
    this.mode = opts.mode ?? 'deterministic';
    this.seed = opts.seed ?? 1;
    this.prng = new Prng(this.seed);
    this.sliceMin = opts.sliceMin ?? 1;
    this.sliceMax = opts.sliceMax ?? 16;
    this.freeSliceUs = opts.freeSliceUs ?? 5000;
    this.watchdogUs = opts.watchdogUs ?? 0;
    this.countInstructions = opts.countInstructions ?? false;
    const factory = opts.engineFactory ?? createEngine;
    this.factory = factory;
    this.excOffset = oldExceptionOffset(factory);
    this.errOffset = errorCodeOffset(factory);
    this.syscallBias = syscallRipBias(factory);
    this.mem.addRegion('stop-stub', STOP_STUB, 0x1000, Prot.READ | Prot.EXEC, []).buf[0] = 0xf4;
    const self = this;
    this.guestCalls = new GuestCaller({
      mem: this.mem,
      factory,
      installHooks: (v) => this.installHooks(v),
      afterExecute: (v, failure) => this.afterExecute(v, failure),
      get current() {
        return self.current;
      },
      set current(v) {
        self.current = v;
      },
      runFor: (ns) => this.runFor(ns),
    });
    for (let i = 0; i < cpus; i++) {
      const v = new Vcpu(i, factory(), TICK_NS);
      this.mem.mapInto(v.engine);
      this.installHooks(v);
      this.vcpus.push(v);
    }
  }

  /** Map a new region of guest memory into every vCPU. */
  addRegion(name: string, base: bigint, size: number, perms: number = Prot.ALL) {
    const engines = this.vcpus.map((v) => v.engine);
    if (this.guestCalls.vcpu) engines.push(this.guestCalls.vcpu.engine);
    return this.mem.addRegion(name, base, size, perms, engines);
  }

  /** Release every engine. */
  close(): void {
    for (const h of this.hooks) h.remove();
    for (const v of this.vcpus) v.engine.close();
    this.guestCalls.vcpu?.engine.close();
  }

  // ---- hooks -------------------------------------------------------------

  private installHooks(v: Vcpu): void {
    const e = v.engine;
    this.hooks.push(
      e.addInterruptHook((intno) => {
        this.onInterrupt(v, intno);
        this.event(v, true);
      }),
      e.addInvalidMemHook((access, address) => this.onInvalidMem(v, access, address)),
    );
    if (this.mode === 'free') {
      // Free mode: the common syscall runs natively (emu/nativeSyscall.ts); armed per slice in execute().
      const h = e.addNativeSyscallHook(() => {
        this.foldNativeSyscalls(v);
        this.onSyscall(v);
        this.armNativeSyscall(v);
      });
      v.nativeSyscall = h;
      this.hooks.push(h);
    } else {
      this.hooks.push(e.addSyscallHook(() => this.onSyscall(v)));
    }
    if (this.countInstructions) this.hooks.push(e.addBlockHook((addr, size) => this.countBlock(v, addr, size)));
  }

  /**
   * A guest event: the unit of guest time, and where deterministic slices end
   * (the stop lands at the next block boundary, the same one on every run).
   */
  private event(v: Vcpu, wroteRip = false): void {
    if (this.countEvent(v)) this.requestStop(v, wroteRip);
  }

  /**
   * Count one guest event; true when the slice must end at it: the seeded
   * budget in deterministic mode, the wall-clock budget in free mode (a
   * slice never ends on Unicorn's timeout: the RIP it reports then can be a
   * stale block start whose first instructions already ran).
   */
  private countEvent(v: Vcpu): boolean {
    v.events++;
    v.sliceEvents++;
    const over = this.mode === 'deterministic' ? v.sliceEvents >= v.sliceBudget : performance.now() - v.sliceStartMs >= this.freeSliceUs / 1000;
    if (v.stopRequested || over) v.stopRequested = true;
    // A stop request must not be undone by a natively written RIP (Unicorn resumes after one).
    if (v.stopRequested) v.nativeSyscall?.disarm();
    return v.stopRequested;
  }

  /** End the running slice of `v` from inside one of its hooks. */
  private requestStop(v: Vcpu, wroteRip: boolean): void {
    if (!wroteRip) {
      // RIP untouched: uc_emu_stop lands at the next block boundary, the same on every run.
      v.engine.emuStop();
      return;
    }
    if (v.resumeRip !== undefined) return;
    v.resumeRip = v.engine.regRead('rip');
    v.engine.regWrite('rip', STOP_STUB);
  }

  /**
   * Let the native hook run syscalls: at slice start, and again after each
   * one the JS path took (it may just have delivered what was pending). Only
   * with nothing pending (the native code does not look: Vcpu.raise disarms),
   * no stop requested (countEvent disarms) and LSTAR known.
   */
  private armNativeSyscall(v: Vcpu): void {
    if (!v.nativeSyscall || !v.inSlice || v.pending.size > 0 || v.stopRequested || v.lstar === 0n) return;
    v.nativeSyscall.arm(v.lstar - this.syscallBias, ~v.fmask & ~0x10000n, NATIVE_SYSCALL_BATCH);
  }

  /**
   * Let blocks run in [begin, end] count as guest events, one per
   * BLOCKS_PER_EVENT of them in a slice (counted natively, reset at every
   * slice start, so deterministic): for code the machine cannot trust to make
   * events, such as modules. Scheduled vCPUs only (not guest calls).
   */
  countBlocksAsEvents(begin: bigint, end: bigint): void {
    this.blockEventRanges.push({ begin, end });
    for (const v of this.vcpus) this.installBlockEvents(v, begin, end);
  }

  private installBlockEvents(v: Vcpu, begin: bigint, end: bigint): void {
    const h = v.engine.addNativeBlockCounter(() => {
      h.reset(BLOCKS_PER_EVENT);
      this.event(v);
    }, begin, end);
    v.blockCounters.push(h);
    this.hooks.push(h);
  }

  /** Count the syscalls the native hook ran as the events they are (its partner: the arm in execute()). */
  private foldNativeSyscalls(v: Vcpu): void {
    const n = v.nativeSyscall?.takeCount() ?? 0;
    v.events += BigInt(n);
    v.sliceEvents += n;
  }

  private countBlock(v: Vcpu, addr: bigint, size: number): void {
    let b = this.blockInsns.get(addr);
    if (b === undefined) {
      b = { n: countInsns(this.mem.read(addr, size)), size };
      this.blockInsns.set(addr, b);
    }
    v.insns += BigInt(b.n);
  }

  private onInterrupt(v: Vcpu, intno: number): void {
    if (intno === HYPERCALL_VECTOR) {
      this.hypercalls.dispatch(v);
      return;
    }
    const rip = v.engine.regRead('rip');
    // Deliver now: Unicorn resumes at RIP after the hook, so a fault left
    // undelivered would re-execute the faulting instruction. The hook runs
    // between blocks (cpu_handle_exception), where the context can be
    // rewritten safely: reset old_exception there (escalation.ts).
    const code = VECTORS_WITH_ERROR_CODE.has(intno) && this.errOffset !== null ? readErrorCode(v.engine, this.errOffset) : 0n;
    this.deliverVector(v, intno, rip, code);
    if (isContributory(intno) && this.excOffset !== null) resetOldException(v.engine, this.excOffset);
  }

  private onInvalidMem(v: Vcpu, access: MemAccess, address: bigint): boolean {
    v.fault = { access, address };
    return false;
  }

  /**
   * `syscall` as the hardware does it: RCX = next RIP, R11 = RFLAGS, RFLAGS &=
   * ~FMASK, RIP = LSTAR - in one register write, since this runs for every
   * syscall. Unicorn adds its own increment to the RIP a syscall hook leaves
   * (syscallBias.ts), so the written RIP is compensated.
   */
  private onSyscall(v: Vcpu): void {
    const e = v.engine;
    const [rip, rflags] = e.regReadBatch(['rip', 'rflags']);
    // An interrupt pending while IF=1 is taken before the syscall instruction,
    // which re-executes after iretq: otherwise a task that only makes syscalls
    // would end every slice inside the kernel with IF=0 and never see its tick.
    if (v.pending.size > 0 && (rflags! & RFLAGS_IF) !== 0n) {
      const vec = v.highestPending()!;
      v.pending.delete(vec);
      this.deliverVector(v, vec, rip!);
      this.event(v, true);
      if (this.syscallBias !== 0n) e.regWrite('rip', e.regRead('rip') - this.syscallBias);
      return;
    }
    // Cached per slice (execute()); a guest that set LSTAR earlier in this same slice is read here.
    if (v.lstar === 0n) {
      v.lstar = e.msrRead(MSR_LSTAR);
      v.fmask = e.msrRead(MSR_SYSCALL_MASK);
    }
    let target = v.lstar;
    if (this.countEvent(v) && v.resumeRip === undefined) {
      v.resumeRip = target;
      target = STOP_STUB;
    }
    // `syscall` is 0f 05: the next instruction is 2 bytes on.
    e.regWriteBatch(['rcx', 'r11', 'rflags', 'rip'], [rip! + 2n, rflags!, rflags! & ~v.fmask & ~0x10000n, target - this.syscallBias]);
  }

  /** Deliver through the IDT and tell listeners. */
  deliverVector(v: Vcpu, vector: number, rip: bigint, errorCode = 0n): void {
    deliver(v, this.mem, vector, rip, errorCode, this.rsp0?.(v));
    for (const f of this.onDeliver) f(v, vector, rip);
  }

  // ---- synchronous guest calls (guestCall.ts) ----------------------------

  /**
   * Run guest function `fn(args...)` to completion on an auxiliary engine that
   * shares memory with the vCPUs but is never scheduled: how host code (the
   * kernel's C half) calls guest code such as livepatch callbacks, even from
   * inside a hypercall. `like` lends its GS_BASE/GDT/IDT (so `current` is
   * that CPU's), the call runs on `stackTop`, and returns when it reaches
   * `retAddr` (an address that is never executed).
   * @throws EmuError when it faults unrecoverably or exceeds `maxInsns`
   */
  callGuest(fn: bigint, args: bigint[], o: GuestCallOptions): bigint {
    return this.guestCalls.call(fn, args, o);
  }

  /** HOST_CALL_WAIT from `v` (GuestCaller.hostCallWait). */
  hostCallWait(v: Vcpu): boolean {
    return this.guestCalls.hostCallWait(v);
  }

  // ---- time and host timers ---------------------------------------------

  /** Run `fn` on the host when guest time reaches `atNs`. Returns a cancel function. */
  addTimer(atNs: bigint, fn: () => void): () => void {
    const t: HostTimer = { at: atNs, seq: this.timerSeq++, fn };
    this.timers.push(t);
    this.timers.sort((a, b) => (a.at === b.at ? a.seq - b.seq : a.at < b.at ? -1 : 1));
    return () => {
      this.timers = this.timers.filter((x) => x !== t);
    };
  }

  /** Raise an interrupt on a vCPU (IPI, device); a halted vCPU wakes for it. */
  raiseInterrupt(cpu: number, vector: number): void {
    const v = this.vcpus[cpu];
    if (!v) throw new EmuError('input', `no vCPU ${cpu}`);
    v.raise(vector);
  }

  /**
   * Drop translated code for [begin, end) on every vCPU: the emulator's
   * serializing IPI (sync_core on each CPU). text_poke_bp calls it at each of
   * its three sync points; without it a vCPU keeps running stale bytes.
   */
  syncCore(begin: bigint, end: bigint): void {
    for (const [a, b] of this.blockInsns) if (a < end && a + BigInt(b.size) > begin) this.blockInsns.delete(a);
    for (const v of this.guestCalls.vcpu ? [...this.vcpus, this.guestCalls.vcpu] : this.vcpus) {
      v.engine.tbRemoveCache(begin, end);
      // A vCPU inside emuStart may be executing a block of that range: end its
      // slice so the next one retranslates (the partner is runSlice()).
      if (v.running) {
        v.stopRequested = true;
        v.engine.emuStop();
      }
    }
    this.syncCount++;
  }

  // ---- scheduling --------------------------------------------------------

  /** Guest time at which vCPU `v` next has something to do. */
  private readyAt(v: Vcpu): bigint | undefined {
    if (v.dead) return undefined;
    if (!v.halted) return v.timeNs;
    if (v.pending.size > 0 && interruptsEnabled(v.engine)) return v.timeNs > this.nowNs ? v.timeNs : this.nowNs;
    if (!interruptsEnabled(v.engine)) return undefined; // cli; hlt: stopped for good
    return v.nextTickNs > v.timeNs ? v.nextTickNs : v.timeNs;
  }

  /** Pick the next vCPU: earliest guest time first, ties broken by the seed. */
  private pick(): { v: Vcpu; at: bigint } | undefined {
    let best: Vcpu[] = [];
    let bestAt: bigint | undefined;
    for (const v of this.vcpus) {
      const at = this.readyAt(v);
      if (at === undefined) continue;
      if (bestAt === undefined || at < bestAt) {
        best = [v];
        bestAt = at;
      } else if (at === bestAt) best.push(v);
    }
    if (bestAt === undefined) return undefined;
    const v = best.length === 1 ? best[0]! : best[this.prng.range(0, best.length - 1)]!;
    return { v, at: bestAt };
  }

  /**
   * One scheduling step: fire a due host timer, or run one slice on the vCPU
   * whose guest time is earliest. Returns false when nothing can ever run.
   */
  step(): boolean {
    if (this.panicMessage !== undefined) return false;
    const next = this.pick();
    const timer = this.timers[0];
    if (timer && (!next || timer.at <= next.at)) {
      this.timers.shift();
      if (timer.at > this.nowNs) this.nowNs = timer.at;
      timer.fn();
      return true;
    }
    if (!next) return false;
    const { v, at } = next;
    if (at > this.nowNs) this.nowNs = at;
    if (at > v.timeNs) v.timeNs = at;
    this.runSlice(v);
    return true;
  }

  private tick(v: Vcpu): void {
    if (v.timeNs < v.nextTickNs) return;
    v.raise(Vector.LOCAL_TIMER);
    // Lost ticks are not replayed (like NO_HZ after a long idle).
    while (v.nextTickNs <= v.timeNs) v.nextTickNs += TICK_NS;
  }

  /** Deliver the highest pending interrupt if IF allows; wakes a halted vCPU. */
  private injectPending(v: Vcpu): void {
    if (v.pending.size === 0 || !interruptsEnabled(v.engine)) return;
    const vec = v.highestPending()!;
    v.pending.delete(vec);
    v.halted = false;
    this.deliverVector(v, vec, v.engine.regRead('rip'));
  }

  private runSlice(v: Vcpu): void {
    this.tick(v);
    this.injectPending(v);
    if (v.halted) {
      v.timeNs = v.nextTickNs;
      return;
    }
    for (const f of this.beforeSlice) f(v);
    v.sliceBudget = this.mode === 'deterministic' ? this.prng.range(this.sliceMin, this.sliceMax) : Number.MAX_SAFE_INTEGER;
    v.sliceEvents = 0;
    const t0 = this.mode === 'free' ? performance.now() : 0;
    this.execute(v);
    // Guest time: one event's worth per event, at least one per slice; in free
    // mode the wall-clock time the slice took, scaled (non-deterministic).
    const charged = this.mode === 'free' ? BigInt(Math.ceil((performance.now() - t0) * 1e6)) : BigInt(Math.max(1, v.sliceEvents)) * NS_PER_EVENT;
    v.timeNs += charged;
    v.slices++;
    for (const f of this.afterSlice) f(v);
  }

  /** Run the engine for one slice and turn its stop reason into machine events. */
  private execute(v: Vcpu): void {
    const e = v.engine;
    v.stopRequested = false;
    v.fault = undefined;
    v.pendingException = undefined;
    const start = e.regRead('rip');
    v.lstar = e.msrRead(MSR_LSTAR);
    v.fmask = e.msrRead(MSR_SYSCALL_MASK);
    v.sliceStartMs = performance.now();
    v.inSlice = true;
    for (const c of v.blockCounters) c.reset(BLOCKS_PER_EVENT);
    this.armNativeSyscall(v);
    this.current = v;
    v.running = true;
    let failure: unknown;
    try {
      e.emuStart(start, 0n, this.watchdogUs, 0);
    } catch (err) {
      failure = err;
    } finally {
      v.running = false;
      this.current = undefined;
      v.inSlice = false;
      v.nativeSyscall?.disarm();
      this.foldNativeSyscalls(v);
    }
    this.afterExecute(v, failure);
  }

  private afterExecute(v: Vcpu, failure: unknown): void {
    const e = v.engine;
    if (v.resumeRip !== undefined) {
      const at = e.regRead('rip');
      if (at === STOP_STUB + 1n || at === STOP_STUB) e.regWrite('rip', v.resumeRip);
      v.resumeRip = undefined;
      if (failure === undefined && !v.fault && (at === STOP_STUB + 1n || at === STOP_STUB)) return;
    }
    if (v.needsExceptionReset && this.excOffset !== null) resetOldException(e, this.excOffset);
    v.needsExceptionReset = false;
    if (v.fault) {
      deliverPageFault(v, this.mem, v.fault.access, v.fault.address, this.rsp0?.(v));
      for (const f of this.onDeliver) f(v, Vector.PF, e.regRead('rip'));
      return;
    }
    if (v.pendingException) {
      this.deliverVector(v, v.pendingException.vector, v.pendingException.rip);
      return;
    }
    if (failure !== undefined) {
      if (isInvalidInsn(failure)) {
        this.deliverVector(v, Vector.UD, e.regRead('rip'));
        return;
      }
      throw failure;
    }
    if (!v.stopRequested && this.haltedAt(e.regRead('rip'))) v.halted = true;
  }

  /** `hlt` makes emuStart return with RIP after it (Unicorn gives no reason code). */
  private haltedAt(rip: bigint): boolean {
    return this.mem.isMapped(rip - 1n, 1) && this.mem.readU8(rip - 1n) === 0xf4;
  }

  /**
   * Run until `pred()` holds (checked after every step), the guest panics, or
   * `maxNs` of guest time pass. Returns whether `pred` held.
   */
  runUntil(pred: () => boolean, opts: { maxNs?: bigint } = {}): boolean {
    const limit = this.nowNs + (opts.maxNs ?? 60_000_000_000n);
    while (!pred()) {
      if (this.nowNs >= limit || !this.step()) return pred();
    }
    return true;
  }

  /** Run for `ns` of guest time. */
  runFor(ns: bigint): void {
    const end = this.nowNs + ns;
    this.runUntil(() => this.nowNs >= end, { maxNs: ns + 1n });
  }

  /** Stop the machine with a guest panic message. */
  panic(message: string): void {
    this.panicMessage = message;
    for (const v of this.vcpus) {
      v.dead = true;
      if (v.running) v.engine.emuStop();
    }
  }

  // ---- snapshots ---------------------------------------------------------

  addParticipant(p: SnapshotParticipant): void {
    this.participants.set(p.name, p);
  }

  snapshot(): MachineSnapshot {
    if (this.current) throw new EmuError('input', 'cannot snapshot while a vCPU runs');
    const participants = new Map<string, unknown>();
    for (const [n, p] of this.participants) participants.set(n, p.save());
    return {
      mem: this.mem.save(),
      cpus: this.vcpus.map((v) => ({
        ctx: v.engine.contextSave(), halted: v.halted, dead: v.dead, timeNs: v.timeNs, insns: v.insns, events: v.events,
        slices: v.slices, nextTickNs: v.nextTickNs, pending: [...v.pending],
      })),
      prng: this.prng.save(),
      nowNs: this.nowNs,
      consoleOut: this.consoleOut,
      participants,
    };
  }

  /** Restore a snapshot; host timers are not part of it (participants re-arm theirs). */
  restore(s: MachineSnapshot): void {
    if (this.current) throw new EmuError('input', 'cannot restore while a vCPU runs');
    if (s.cpus.length !== this.vcpus.length) throw new EmuError('input', 'snapshot has another vCPU count');
    this.mem.restore(s.mem);
    s.cpus.forEach((c, i) => {
      const v = this.vcpus[i]!;
      v.engine.contextRestore(c.ctx);
      v.engine.tbFlush();
      Object.assign(v, { halted: c.halted, dead: c.dead, timeNs: c.timeNs, insns: c.insns, events: c.events, slices: c.slices, nextTickNs: c.nextTickNs });
      v.pending.clear();
      for (const p of c.pending) v.pending.add(p);
    });
    this.prng.restore(s.prng);
    this.nowNs = s.nowNs;
    this.consoleOut = s.consoleOut;
    this.panicMessage = undefined;
    this.timers = [];
    for (const [n, p] of this.participants) if (s.participants.has(n)) p.restore(s.participants.get(n));
  }
}

function isInvalidInsn(err: unknown): boolean {
  return err instanceof EmuError && /INSN_INVALID/.test(err.message);
}

/** Create a machine (see MachineOptions). */
export function createMachine(opts: MachineOptions = {}): Machine {
  return new Machine(opts);
}
