// guestCall.ts - host code calling guest functions synchronously on an auxiliary engine (the kernel's C half calling callbacks)

import type { Engine } from '../types.ts';
import { EmuError } from '../errors.ts';
import type { GuestMemory } from './memory.ts';
import { Vcpu } from './vcpu.ts';
import { Clock } from '../../src/abi/layout.ts';

const TICK_NS = BigInt(Clock.TICK_NS);
/** How long one host call may wait for the guest (HOST_CALL_WAIT) in guest time. */
const MAX_HOST_CALL_WAIT_NS = 120_000_000_000n;

/** What the machine lends the guest-call engine: its memory, hooks, stop handling and scheduler. */
export interface GuestCallHost {
  readonly mem: GuestMemory;
  readonly factory: () => Engine;
  installHooks(v: Vcpu): void;
  afterExecute(v: Vcpu, failure: unknown): void;
  /** The vCPU whose slice is running (hooks dispatch on it), or undefined. */
  current: Vcpu | undefined;
  runFor(ns: bigint): void;
}

/** Options of one call: `like` lends GS_BASE/GDT/IDT, the call runs on `stackTop` and ends at `retAddr`. */
export interface GuestCallOptions {
  like: Vcpu;
  stackTop: bigint;
  retAddr: bigint;
  maxInsns?: number;
}

/**
 * The auxiliary engine: shares memory with the vCPUs but is never scheduled.
 * Calls nest (a hypercall inside a call may call again); the outermost call
 * made from the host's top level may wait (HOST_CALL_WAIT) while the vCPUs run.
 */
export class GuestCaller {
  vcpu: Vcpu | undefined;
  /** Nesting of calls; whether the outermost call may wait; whether it asked to. */
  private depth = 0;
  private mayWait = false;
  private waitRequested = false;

  constructor(private readonly host: GuestCallHost) {}

  private auxVcpu(): Vcpu {
    if (!this.vcpu) {
      const v = new Vcpu(-1, this.host.factory(), TICK_NS);
      this.host.mem.mapInto(v.engine);
      this.host.installHooks(v);
      this.vcpu = v;
    }
    return this.vcpu;
  }

  /** Point the aux engine at `fn(args...)` on its own stack, with `like`'s CPU tables. */
  private setup(e: Engine, fn: bigint, args: bigint[], o: GuestCallOptions): void {
    e.gdtrWrite(o.like.engine.gdtrRead());
    e.idtrWrite(o.like.engine.idtrRead());
    e.regWrite('gs_base', o.like.engine.regRead('gs_base'));
    const sp = o.stackTop - 8n;
    this.host.mem.writeU64(sp, o.retAddr);
    const regs = ['rdi', 'rsi', 'rdx', 'rcx', 'r8', 'r9'] as const;
    args.forEach((a, i) => e.regWrite(regs[i]!, a));
    e.regWriteBatch(['rsp', 'rbp', 'rip', 'rflags'], [sp, 0n, fn, 2n]);
  }

  /** One emuStart of the aux engine, its stop turned into machine events. */
  private runOnce(aux: Vcpu, retAddr: bigint, count: number): void {
    const e = aux.engine;
    this.host.current = aux;
    aux.running = true;
    aux.stopRequested = false;
    aux.fault = undefined;
    aux.pendingException = undefined;
    let failure: unknown;
    try {
      e.emuStart(e.regRead('rip'), retAddr, 0, count);
    } catch (err) {
      failure = err;
    }
    aux.running = false;
    this.host.afterExecute(aux, failure);
    if (aux.halted) throw new EmuError('guest', 'guest call halted', { address: e.regRead('rip') });
  }

  /**
   * Run guest function `fn(args...)` to completion. Interrupts stay off.
   * @throws EmuError when it faults unrecoverably or exceeds `maxInsns`
   */
  call(fn: bigint, args: bigint[], o: GuestCallOptions): bigint {
    const aux = this.auxVcpu();
    const e = aux.engine;
    // A call made while another is in progress (from a hypercall inside it, or
    // from a timer or wake-up while it waits) gives the outer call its registers back.
    const depth = this.depth++;
    const saved = depth > 0 ? e.contextSave() : undefined;
    if (depth === 0) this.mayWait = this.host.current === undefined;
    this.setup(e, fn, args, o);
    aux.timeNs = o.like.timeNs;
    const outer = this.host.current;
    let budget = o.maxInsns ?? 10_000_000;
    let waitedNs = 0n;
    try {
      while (e.regRead('rip') !== o.retAddr) {
        if (budget <= 0) throw new EmuError('guest', 'guest call did not return', { address: fn });
        this.runOnce(aux, o.retAddr, Math.min(budget, 1_000_000));
        if (this.waitRequested && depth === 0) {
          // HOST_CALL_WAIT: the call sleeps a tick while the vCPUs run (as the
          // task that made the syscall would), then resumes after the hypercall.
          this.waitRequested = false;
          if (waitedNs >= MAX_HOST_CALL_WAIT_NS) throw new EmuError('guest', 'guest call waited too long', { address: fn });
          this.host.current = outer;
          this.host.runFor(TICK_NS);
          waitedNs += TICK_NS;
          continue;
        }
        budget -= 1_000_000;
      }
      return e.regRead('rax');
    } finally {
      this.host.current = outer;
      if (saved) e.contextRestore(saved);
      this.depth--;
    }
  }

  /**
   * HOST_CALL_WAIT from `v`: true when `v` runs a host call made from the
   * host's top level (not from inside a vCPU), which then waits one tick with
   * the machine running; false for a task (it sleeps itself) or a nested call.
   */
  hostCallWait(v: Vcpu): boolean {
    if (v !== this.vcpu || this.depth !== 1 || !this.mayWait) return false;
    this.waitRequested = true;
    v.stopRequested = true;
    return true;
  }
}
