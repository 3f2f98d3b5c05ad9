// breakpoints.ts - code breakpoints: one code hook per address and vCPU, conditions, ignore counts, temporaries

import type { Machine, Vcpu } from '../../emu/machine/index.ts';
import type { HookHandle } from '../../emu/types.ts';
import { evaluate, isTrue, type EvalContext } from './expr.ts';
import type { Numbered, StopQueue } from './stops.ts';
import { withRangeFlush } from './flush.ts';

/** A breakpoint. Internal ones (finish, nexti, until) are not listed and not numbered for users. */
export interface Breakpoint extends Numbered {
  addr: bigint;
  temporary: boolean;
  internal: boolean;
  /** gdb `if COND`, evaluated on the hitting vCPU. */
  cond?: string;
  /** Host predicate for internal breakpoints (e.g. "the frame returned"). */
  pred?: (v: Vcpu) => boolean;
  /** Only this vCPU stops. */
  cpu?: number;
  /** Crossings to ignore before stopping (gdb `ignore`, `continue N`). */
  ignore: number;
}

/** Every breakpoint at one address shares a code hook per vCPU. */
interface Location {
  addr: bigint;
  bps: Breakpoint[];
  hooks: HookHandle[];
}

/**
 * The breakpoint table. A hook stops the vCPU before the instruction runs,
 * when at least one enabled breakpoint there matches (cpu, condition,
 * ignore count); a condition that fails to evaluate stops too, with the error.
 */
export class Breakpoints {
  private readonly locations = new Map<bigint, Location>();
  readonly list: Breakpoint[] = [];

  constructor(
    private readonly machine: Machine,
    private readonly stops: StopQueue,
    private readonly ctxFor: (cpu: number) => EvalContext,
    private readonly nextId: (internal: boolean) => number,
  ) {}

  /** Add a breakpoint at `addr`. */
  add(addr: bigint, opts: Partial<Pick<Breakpoint, 'temporary' | 'internal' | 'cond' | 'pred' | 'cpu'>> = {}): Breakpoint {
    const internal = opts.internal ?? false;
    const bp: Breakpoint = { id: this.nextId(internal), addr, enabled: true, hits: 0, ignore: 0, temporary: opts.temporary ?? false, internal, ...opts };
    this.list.push(bp);
    this.location(addr).bps.push(bp);
    return bp;
  }

  private location(addr: bigint): Location {
    let loc = this.locations.get(addr);
    if (loc) return loc;
    loc = { addr, bps: [], hooks: [] };
    const l = loc;
    const only = [{ lo: addr, hi: addr + 1n }];
    for (const v of this.machine.vcpus) {
      l.hooks.push(withRangeFlush([v.engine], only, () => v.engine.addCodeHook(() => this.hit(v, l), addr, addr)));
    }
    this.locations.set(addr, l);
    return l;
  }

  /** The hook body: runs on `v` before the instruction at `loc.addr`. */
  private hit(v: Vcpu, loc: Location): void {
    if (!this.stops.armed || this.stops.consumeSkip(v, loc.addr)) return;
    let first: Breakpoint | undefined;
    for (const bp of loc.bps) {
      const verdict = this.matches(bp, v);
      if (verdict === 'no') continue;
      if (typeof verdict === 'object') {
        this.stops.stopHere(v, { kind: 'cond-error', id: bp.id, cpu: v.id, addr: loc.addr, message: verdict.error });
        return;
      }
      bp.hits++;
      if (bp.ignore > 0) {
        bp.ignore--;
        continue;
      }
      first ??= bp;
    }
    if (first) this.stops.stopHere(v, { kind: 'breakpoint', id: first.id, cpu: v.id, addr: loc.addr, internal: first.internal });
  }

  private matches(bp: Breakpoint, v: Vcpu): 'yes' | 'no' | { error: string } {
    if (!bp.enabled || (bp.cpu !== undefined && bp.cpu !== v.id)) return 'no';
    if (bp.pred && !bp.pred(v)) return 'no';
    if (bp.cond === undefined) return 'yes';
    try {
      return isTrue(evaluate(bp.cond, this.ctxFor(v.id))) ? 'yes' : 'no';
    } catch (e) {
      return { error: `Error in testing condition for breakpoint ${bp.id}: ${e instanceof Error ? e.message : String(e)}` };
    }
  }

  get(id: number): Breakpoint | undefined {
    return this.list.find((b) => b.id === id);
  }

  /** Delete a breakpoint; its location's hooks go with the last breakpoint there. */
  remove(bp: Breakpoint): void {
    const i = this.list.indexOf(bp);
    if (i >= 0) this.list.splice(i, 1);
    const loc = this.locations.get(bp.addr);
    if (!loc) return;
    loc.bps = loc.bps.filter((b) => b !== bp);
    if (loc.bps.length > 0) return;
    for (const h of loc.hooks) h.remove();
    this.locations.delete(bp.addr);
  }

  /** Drop internal breakpoints (after the run that needed them). */
  removeInternal(): void {
    for (const bp of this.list.filter((b) => b.internal)) this.remove(bp);
  }

  /** Breakpoints users see. */
  visible(): Breakpoint[] {
    return this.list.filter((b) => !b.internal);
  }

  /** Addresses with an enabled breakpoint (for listings). */
  isBreakAt(addr: bigint): boolean {
    return this.locations.get(addr)?.bps.some((b) => b.enabled && !b.internal) ?? false;
  }

  /** Remove every hook (session end). */
  close(): void {
    for (const bp of [...this.list]) this.remove(bp);
  }
}
