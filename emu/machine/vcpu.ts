// vcpu.ts - one virtual CPU: its engine, time, halt state and pending interrupts

import type { Engine, MemAccess } from '../types.ts';

/** A fault recorded by the invalid-memory hook, delivered as #PF after emuStart returns. */
export interface PendingFault {
  access: MemAccess;
  address: bigint;
}

/** Why the last slice ended. */
export type SliceEnd = 'budget' | 'halt' | 'stop' | 'fault' | 'invalid-insn';

/**
 * vCPU bookkeeping kept by the host; the architectural state lives in the
 * engine. `insns` counts the instruction budget charged to this vCPU: a slice
 * that ends early (hlt, a hypercall that yields, a fault) is charged in full,
 * like time spent halted, so the count is exact for full slices and the
 * same on every run for the rest.
 */
export class Vcpu {
  halted = false;
  /** The guest panicked or the vCPU was taken offline. */
  dead = false;
  /** Local guest time in ns. */
  timeNs = 0n;
  insns = 0n;
  slices = 0;
  nextTickNs: bigint;
  readonly pending = new Set<number>();
  /** Set by hooks that need the slice to end (CPU_RELAX, a contributory exception). */
  stopRequested = false;
  needsExceptionReset = false;
  fault: PendingFault | undefined;
  /** A contributory exception seen in the interrupt hook, delivered once emuStart returns. */
  pendingException: { vector: number; rip: bigint } | undefined;
  /** The engine is inside emuStart (a hook on this vCPU is running). */
  running = false;
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
