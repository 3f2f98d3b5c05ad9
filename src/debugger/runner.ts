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

/** Let the event loop run (keypresses, Ctrl-C, SIGINT) between chunks of emulation. */
const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * The run loop. Machine.step() runs one slice of one vCPU (or a host timer);
 * after each step the loop checks the hits the debugger hooks recorded, the
 * caller's predicate, the guest-time limit and the interrupt flag. Every
 * `chunkMs` of wall time it yields to the event loop, so Ctrl-C (a readline
 * keypress or a SIGINT) can set the flag while `continue` runs.
 */
export class Runner {
  /** Wall-clock milliseconds of emulation between two event-loop turns. */
  chunkMs = 25;
  private interruptFlag = false;
  private active = false;

  constructor(private readonly machine: Machine, private readonly stops: StopQueue) {}

  get running(): boolean {
    return this.active;
  }

  /** Ask the running loop to stop at the next step boundary (Ctrl-C). */
  interrupt(): void {
    if (this.active) this.interruptFlag = true;
  }

  /** Run the machine until something ends the run. Hooks are armed only meanwhile. */
  async run(opts: RunOptions = {}): Promise<RunEnd> {
    if (this.active) return { kind: 'error', message: 'the machine is already running' };
    this.active = true;
    this.interruptFlag = false;
    this.stops.take();
    this.stops.armed = true;
    try {
      return await this.loop(opts);
    } finally {
      this.stops.armed = false;
      this.active = false;
    }
  }

  private async loop(opts: RunOptions): Promise<RunEnd> {
    const m = this.machine;
    const limit = opts.limitNs === undefined ? undefined : m.nowNs + opts.limitNs;
    for (;;) {
      const t0 = performance.now();
      do {
        const end = this.stepOnce(opts, limit);
        if (end) return end;
      } while (performance.now() - t0 < this.chunkMs);
      await yieldToEventLoop();
      if (this.interruptFlag) return { kind: 'interrupted' };
    }
  }

  private stepOnce(opts: RunOptions, limit: bigint | undefined): RunEnd | undefined {
    const m = this.machine;
    if (this.interruptFlag) return { kind: 'interrupted' };
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
   * Execute one instruction on vCPU `cpu` (other vCPUs may run meanwhile, as
   * threads do under gdb's default scheduler): a code hook lets the
   * instruction at the current RIP run and stops before the next one, which
   * may be an interrupt handler when one is delivered first, or the syscall
   * entry after `syscall`.
   */
  async stepInsn(cpu: number, opts: RunOptions = {}): Promise<RunEnd> {
    const v = this.machine.vcpus[cpu];
    if (!v) return { kind: 'error', message: `no cpu ${cpu}` };
    if (v.dead) return { kind: 'error', message: `cpu ${cpu} is offline` };
    const start = v.engine.regRead('rip');
    let started = false;
    const hook = withMachineFlush(this.machine, () => v.engine.addCodeHook((addr) => {
      if (!this.stops.armed) return;
      const at = BigInt.asUintN(64, addr);
      if (!started && at === start) {
        started = true;
        return;
      }
      this.stops.stopHere(v, { kind: 'step', cpu, addr: at });
    }));
    try {
      return await this.run(opts);
    } finally {
      hook.remove();
    }
  }
}
