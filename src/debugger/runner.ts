// runner.ts - run control: drive Machine.step() until a stop, a predicate, a limit or Ctrl-C; single-step a vCPU

import type { Machine } from '../../emu/machine/index.ts';
import type { Stop, StopQueue } from './stops.ts';
import { withMachineFlush } from './flush.ts';

/** How a run ended. */
export type RunEnd =
  | { kind: 'stopped'; stops: Stop[] }
  | { kind: 'interrupted' }
  | { kind: 'until' }
  | { kind: 'limit'; ns: bigint }
  | { kind: 'idle' }
  | { kind: 'panic'; message: string }
  | { kind: 'error'; message: string };

export interface RunOptions {
  /** End the run when this holds (checked after every machine step). */
  until?: () => boolean;
  /** Guest time the run may take. */
  limitNs?: bigint;
}

export interface StepOptions extends RunOptions {
  /** Instructions to execute (default 1). */
  count?: number;
}

/** Let the event loop run (keypresses, Ctrl-C, SIGINT) between chunks of emulation. */
const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * The run loop. Machine.step() runs one slice of one vCPU (or a host timer);
 * after each step the loop checks the hits the debugger hooks recorded, the
 * caller's predicate and the guest-time limit. Whenever `chunkMs` of wall
 * time has passed since the last event-loop turn (in this run or the ones
 * before it: a command may be many short runs, `nexti 1000`) it yields, so
 * Ctrl-C (a readline keypress or a SIGINT) can set the interrupt flag. The
 * flag holds until the next command clears it, so a command made of several
 * runs stops at the first one that sees it.
 */
export class Runner {
  /** Wall-clock milliseconds of emulation between two event-loop turns. */
  chunkMs = 25;
  private interruptFlag = false;
  private active = false;
  private lastYield = performance.now();

  constructor(private readonly machine: Machine, private readonly stops: StopQueue) {}

  get running(): boolean {
    return this.active;
  }

  /** Whether Ctrl-C was pressed since the current command began. */
  get interrupted(): boolean {
    return this.interruptFlag;
  }

  /** Stop the running command at the next step boundary (Ctrl-C). */
  interrupt(): void {
    this.interruptFlag = true;
  }

  /** A new command begins: forget an earlier Ctrl-C. */
  clearInterrupt(): void {
    this.interruptFlag = false;
  }

  /** Run the machine until something ends the run. Hooks are armed only meanwhile. */
  async run(opts: RunOptions = {}): Promise<RunEnd> {
    if (this.active) return { kind: 'error', message: 'the machine is already running' };
    this.active = true;
    this.stops.take();
    this.stops.armed = true;
    try {
      return await this.loop(opts);
    } finally {
      this.stops.armed = false;
      this.active = false;
    }
  }

  /** Yield to the event loop when a chunk of wall time has passed. @returns whether Ctrl-C was pressed */
  private async turn(): Promise<boolean> {
    if (performance.now() - this.lastYield >= this.chunkMs) {
      await yieldToEventLoop();
      this.lastYield = performance.now();
    }
    return this.interruptFlag;
  }

  private async loop(opts: RunOptions): Promise<RunEnd> {
    const m = this.machine;
    const limit = opts.limitNs === undefined ? undefined : m.nowNs + opts.limitNs;
    for (;;) {
      if (await this.turn()) return { kind: 'interrupted' };
      do {
        const end = this.stepOnce(opts, limit);
        if (end) return end;
      } while (performance.now() - this.lastYield < this.chunkMs);
    }
  }

  private stepOnce(opts: RunOptions, limit: bigint | undefined): RunEnd | undefined {
    const m = this.machine;
    if (m.panicMessage !== undefined) return { kind: 'panic', message: m.panicMessage };
    let ran: boolean;
    try {
      ran = m.step();
    } catch (e) {
      return { kind: 'error', message: e instanceof Error ? e.message : String(e) };
    }
    if (this.stops.stops.length > 0) return { kind: 'stopped', stops: this.stops.take() };
    if (m.panicMessage !== undefined) return { kind: 'panic', message: m.panicMessage };
    if (!ran) return { kind: 'idle' };
    if (opts.until?.()) return { kind: 'until' };
    if (limit !== undefined && m.nowNs >= limit) return { kind: 'limit', ns: limit };
    return undefined;
  }

  /**
   * Execute `count` instructions on vCPU `cpu` in one run (other vCPUs may
   * run meanwhile, as threads do under gdb's default scheduler): a code hook
   * lets the instruction at the current RIP run and stops before the
   * count-th next one. The next instruction may be an interrupt handler when
   * one is delivered first, or the syscall entry after `syscall`. A
   * breakpoint or watchpoint on the way ends the run there.
   */
  async stepInsn(cpu: number, opts: StepOptions = {}): Promise<RunEnd> {
    const v = this.machine.vcpus[cpu];
    if (!v) return { kind: 'error', message: `no cpu ${cpu}` };
    if (v.dead) return { kind: 'error', message: `cpu ${cpu} is offline` };
    const count = opts.count ?? 1;
    const start = v.engine.regRead('rip');
    let started = false;
    let executed = 0;
    const hook = withMachineFlush(this.machine, () => v.engine.addCodeHook((addr) => {
      if (!this.stops.armed) return;
      const at = BigInt.asUintN(64, addr);
      if (!started) {
        started = true;
        if (at === start) return; // the instruction at RIP is about to run: let it
      }
      if (++executed >= count) this.stops.stopHere(v, { kind: 'step', cpu, addr: at });
    }));
    try {
      return await this.run(opts);
    } finally {
      hook.remove();
    }
  }
}
