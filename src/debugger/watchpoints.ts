// watchpoints.ts - watch guest memory writes (vCPU stores and host text pokes), stopping after the store

import type { Machine, Vcpu } from '../../emu/machine/index.ts';
import type { HookHandle } from '../../emu/types.ts';
import type { Numbered, StopQueue } from './stops.ts';
import { u64 } from './stops.ts';
import { withMachineFlush } from './flush.ts';
import type { PokeLog, PokeRecord } from './pokes.ts';

/** A write watchpoint over [addr, addr + len). */
export interface Watchpoint extends Numbered {
  addr: bigint;
  len: number;
  /** What the user typed (shown by info breakpoints). */
  expr: string;
  hooks: HookHandle[];
}

const readBits = (m: Machine, addr: bigint, size: number): bigint => {
  if (!m.mem.isMapped(addr, size)) return 0n;
  const b = m.mem.read(addr, size);
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
};

/**
 * Watchpoints. A guest store is seen by a memory-write hook, which runs
 * before the store; the vCPU is stopped at the next instruction by a code
 * hook (stopping inside the write hook would leave RIP on the store, which
 * then runs twice on resume - measured on Unicorn 2.0.1). Host writes to
 * text go through text_poke_bp (PokeLog), reported as `poke` stops.
 */
export class Watchpoints {
  readonly list: Watchpoint[] = [];
  /** vCPUs whose last instruction wrote a watched range: stop before the next one. */
  private readonly pendingStop = new Set<number>();
  private stepHooks: HookHandle[] = [];

  constructor(
    private readonly machine: Machine,
    private readonly stops: StopQueue,
    private readonly nextId: () => number,
    pokes: PokeLog | undefined,
  ) {
    pokes?.listeners.push((r) => this.onPoke(r));
    // A store that ended its slice stops nothing more: the run loop already saw the hit.
    machine.afterSlice.push((v) => this.pendingStop.delete(v.id));
  }

  /** Watch writes to [addr, addr + len). */
  add(addr: bigint, len: number, expr: string): Watchpoint {
    if (len < 1 || len > 4096) throw new RangeError(`watch length ${len} outside 1..4096`);
    const wp: Watchpoint = { id: this.nextId(), addr, len, expr, enabled: true, hits: 0, hooks: [] };
    const end = addr + BigInt(len) - 1n;
    for (const v of this.machine.vcpus) {
      wp.hooks.push(v.engine.addMemWriteHook((a, size, value) => this.onWrite(wp, v, u64(a), size, value), addr, end));
    }
    if (this.list.length === 0) this.installStepHooks();
    this.list.push(wp);
    return wp;
  }

  private installStepHooks(): void {
    this.stepHooks = withMachineFlush(this.machine, () => this.machine.vcpus.map((v) => v.engine.addCodeHook(() => this.afterStore(v))));
  }

  private onWrite(wp: Watchpoint, v: Vcpu, addr: bigint, size: number, value: bigint): void {
    if (!this.stops.armed || !wp.enabled) return;
    // A store may straddle the range: report the bytes of it inside the range.
    const lo = addr > wp.addr ? addr : wp.addr;
    const hiW = wp.addr + BigInt(wp.len);
    const hiS = addr + BigInt(size);
    const hi = hiS < hiW ? hiS : hiW;
    if (hi <= lo) return;
    const n = Number(hi - lo);
    const shift = (lo - addr) * 8n;
    const newBits = (value >> shift) & ((1n << BigInt(n * 8)) - 1n);
    const old = readBits(this.machine, lo, n);
    if (old === newBits) return; // gdb reports only changes
    wp.hits++;
    const rip = v.engine.regRead('rip');
    this.stops.record({ kind: 'watch', id: wp.id, cpu: v.id, rip, addr: lo, size: n, old, new: newBits });
    this.pendingStop.add(v.id);
  }

  /** Code hook on every instruction while watchpoints exist: stop right after a watched store. */
  private afterStore(v: Vcpu): void {
    if (!this.pendingStop.delete(v.id)) return;
    v.stopRequested = true;
    v.engine.emuStop();
  }

  private onPoke(r: PokeRecord): void {
    for (const wp of this.list) {
      if (!wp.enabled) continue;
      const end = r.addr + BigInt(r.after.length);
      if (r.addr >= wp.addr + BigInt(wp.len) || end <= wp.addr) continue;
      wp.hits++;
      this.stops.record({ kind: 'poke', id: wp.id, by: r.by, addr: r.addr, text: r.text });
    }
  }

  get(id: number): Watchpoint | undefined {
    return this.list.find((w) => w.id === id);
  }

  remove(wp: Watchpoint): void {
    const i = this.list.indexOf(wp);
    if (i < 0) return;
    this.list.splice(i, 1);
    for (const h of wp.hooks) h.remove();
    if (this.list.length === 0) {
      for (const h of this.stepHooks) h.remove();
      this.stepHooks = [];
      this.pendingStop.clear();
    }
  }

  close(): void {
    for (const wp of [...this.list]) this.remove(wp);
  }
}
