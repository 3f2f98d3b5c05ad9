// vcpu.ts - one virtual CPU: its engine, time, halt state and pending interrupts

import type { Engine, MemAccess, NativeBlockCounterHandle, NativeSyscallHandle } from '../types.ts';

/** A fault recorded by the invalid-memory hook, delivered as #PF after emuStart returns. */
export interface PendingFault {
  access: MemAccess;
  address: bigint;
}


/**
 * vCPU bookkeeping kept by the host; the architectural state lives in the
 * engine. Guest time advances with guest events (see Clock in layout.ts).
 */
export class Vcpu {
  halted = false;
  /** The guest panicked or the vCPU was taken offline. */
  dead = false;
  /** Local guest time in ns. */
  timeNs = 0n;
  /** Instructions executed (only with MachineOptions.countInstructions). */
  insns = 0n;
  slices = 0;
  /** Guest events taken (the unit of guest time). */
  events = 0n;
  /** Events in the current slice, and how many end it (deterministic mode). */
  sliceEvents = 0;
  sliceBudget = 0;
  /** Wall-clock start of the running slice (free mode ends slices at events past the budget). */
  sliceStartMs = 0;
  /** LSTAR and SFMASK, read at slice start (or at the first syscall of a slice that began before they were set); a later change takes effect at the next slice. */
  lstar = 0n;
  fmask = 0n;
  nextTickNs: bigint;
  readonly pending = new Set<number>();
  /** Set by hooks that need the slice to end (CPU_RELAX, a contributory exception). */
  stopRequested = false;
  needsExceptionReset = false;
  fault: PendingFault | undefined;
  /** Where to resume after a stop routed through the machine's stop stub. */
  resumeRip: bigint | undefined;
  /** A contributory exception seen in the interrupt hook, delivered once emuStart returns. */
  pendingException: { vector: number; rip: bigint } | undefined;
  /** The engine is inside emuStart (a hook on this vCPU is running). */
  running = false;
  /** Free mode: the native syscall hook (syscalls it runs are folded into `events` by the machine). */
  nativeSyscall: NativeSyscallHandle | undefined;
  /** A scheduled slice (Machine.execute) is running: the only time the native hook may be armed. */
  inSlice = false;
  /** Counters of blocks run in code whose blocks count as events (Machine.countBlocksAsEvents). */
  readonly blockCounters: NativeBlockCounterHandle[] = [];
  /** Exceptions delivered through the IDT, by vector, for tests. */
  readonly delivered = new Map<number, number>();

  constructor(
    readonly id: number,
    readonly engine: Engine,
    tickNs: bigint,
  ) {
    this.nextTickNs = tickNs;
  }

  /** Record a pending interrupt; a halted vCPU wakes for it. */
  raise(vector: number): void {
    this.pending.add(vector);
    // The native hook does not look at pending interrupts: send the next syscall through the machine (onSyscall takes it).
    this.nativeSyscall?.disarm();
  }

  /** Highest pending vector (the local APIC delivers the highest priority first). */
  highestPending(): number | undefined {
    let best: number | undefined;
    for (const v of this.pending) if (best === undefined || v > best) best = v;
    return best;
  }

  countDelivered(vector: number): void {
    this.delivered.set(vector, (this.delivered.get(vector) ?? 0) + 1);
  }
}
