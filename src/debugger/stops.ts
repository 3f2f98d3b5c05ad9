// stops.ts - why the machine stopped: hits recorded by debugger hooks, stepping off a reported stop

import type { Machine, Vcpu } from '../../emu/machine/index.ts';

/** A user-visible breakpoint or watchpoint (numbered together, as gdb does). */
export interface Numbered {
  id: number;
  enabled: boolean;
  hits: number;
}

/** One reason to stop, recorded by a hook while the machine ran. */
export type Stop =
  | { kind: 'breakpoint'; id: number; cpu: number; addr: bigint; internal: boolean }
  | { kind: 'cond-error'; id: number; cpu: number; addr: bigint; message: string }
  | { kind: 'step'; cpu: number; addr: bigint }
  | { kind: 'watch'; id: number; cpu: number; rip: bigint; addr: bigint; size: number; old: bigint; new: bigint }
  | { kind: 'poke'; id: number; by: string; addr: bigint; text: { before: string; after: string } };

/**
 * The hits of the current run, plus the rules every debugger hook follows:
 * hooks act only while `armed` (the debugger drives the machine; host code that
 * runs the machine itself, e.g. the shell's grep of a /proc file, is not
 * interrupted), and a vCPU resumed at the address where it was reported
 * stopped executes that instruction instead of stopping again (gdb's
 * step-over-breakpoint). A stop from a code hook is exact: the instruction
 * at the hook's address has not run (Unicorn checks for a stop request right
 * after the hook), so RIP is that address.
 */
export class StopQueue {
  armed = false;
  readonly stops: Stop[] = [];
  /** Per vCPU: the address it was reported stopped at, to step over on resume. */
  private readonly stoppedAt = new Map<number, bigint>();
  /** Per vCPU: armed for the current slice when it starts at `stoppedAt`. */
  private readonly skipping = new Map<number, bigint>();

  constructor(private readonly machine: Machine) {
    machine.beforeSlice.push((v) => this.sliceStarts(v));
    machine.afterSlice.push((v) => this.skipping.delete(v.id));
  }

  private sliceStarts(v: Vcpu): void {
    const at = this.stoppedAt.get(v.id);
    if (at === undefined || !this.armed) return;
    this.stoppedAt.delete(v.id);
    if (v.engine.regRead('rip') === at) this.skipping.set(v.id, at);
  }

  /**
   * True when a breakpoint hook at `addr` on `v` must let the instruction run:
   * the first execution of the stopped-at instruction in a resumed slice.
   */
  consumeSkip(v: Vcpu, addr: bigint): boolean {
    if (this.skipping.get(v.id) !== addr) return false;
    this.skipping.delete(v.id);
    return true;
  }

  /** Record a hit and end the vCPU's slice right here (from inside its hook). */
  stopHere(v: Vcpu, s: Stop): void {
    this.stops.push(s);
    v.stopRequested = true;
    v.engine.emuStop();
  }

  /** Record a hit without stopping a vCPU (host events; the run loop ends after the step). */
  record(s: Stop): void {
    this.stops.push(s);
  }

  /** Remember where `cpu` was reported stopped (the next resume steps over that instruction). */
  noteStopped(cpu: number, rip: bigint): void {
    this.stoppedAt.set(cpu, rip);
  }

  /** Forget step-over state (after a restore: the vCPUs are elsewhere). */
  forgetStopped(): void {
    this.stoppedAt.clear();
    this.skipping.clear();
  }

  take(): Stop[] {
    return this.stops.splice(0);
  }
}

/** Addresses that koffi hands to hooks as negative numbers (>= 2^63) made unsigned. */
export const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
