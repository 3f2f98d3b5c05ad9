// options.ts - the machine's options, snapshot format and the stop stub address

import type { Engine } from '../types.ts';

export type RunMode = 'deterministic' | 'free';

export interface MachineOptions {
  /** 1 to 8 vCPUs (default 1). */
  cpus?: number;
  /** Seed of the interleaving (default 1). */
  seed?: number;
  /**
   * 'deterministic' (default): a slice ends after a number of guest events
   * (syscalls, hypercalls, exceptions, interrupts) drawn from the seed, so a run
   * is a pure function of its inputs. 'free': NON-DETERMINISTIC, a slice ends at
   * the first guest event after a wall-clock budget (freeSliceUs), for speed.
   */
  mode?: RunMode;
  /** Slice length bounds in guest events (deterministic mode; default 1..16). */
  sliceMin?: number;
  sliceMax?: number;
  /** Wall-clock slice length in microseconds (free mode; default 5000). */
  freeSliceUs?: number;
  /**
   * Count executed instructions exactly per vCPU (a block hook per vCPU; costs
   * about 100 ns per translated-block execution). Off by default.
   */
  countInstructions?: boolean;
  /**
   * Deterministic mode only: abort a slice that runs this many wall-clock
   * microseconds without a guest event (a runaway guest loop). 0 = off.
   * Unicorn's timeout costs ~150 us per slice, so keep it for trial runs.
   */
  watchdogUs?: number;
  engineFactory?: () => Engine;
}

/** A host-side participant in snapshots (ftrace, livepatch, debugger state). */
export interface SnapshotParticipant {
  name: string;
  save(): unknown;
  restore(state: unknown): void;
}

/** A whole-machine snapshot: every vCPU's registers and all guest memory. */
export interface MachineSnapshot {
  mem: Buffer[];
  cpus: {
    ctx: Uint8Array; halted: boolean; dead: boolean; timeNs: bigint; insns: bigint; events: bigint;
    slices: number; nextTickNs: bigint; pending: number[];
  }[];
  prng: [bigint, bigint];
  nowNs: bigint;
  consoleOut: string;
  participants: Map<string, unknown>;
}

/**
 * The machine's stub page (the vsyscall page's address; the guest never runs
 * there): `hlt` at offset 0. Unicorn mishandles uc_emu_stop() in a hook that
 * also wrote RIP (it resumes at the RIP of the stop request later), so a hook
 * that changed RIP and wants the slice to end points RIP here instead and
 * records where to resume (requestStop; partner: afterExecute()).
 */
export const STOP_STUB = 0xffff_ffff_ff60_0000n;
