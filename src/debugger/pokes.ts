// pokes.ts - every kernel text modification made through text_poke_bp, observed from the debugger side

import type { Machine } from '../../emu/machine/index.ts';
import type { PokeMismatch, PokeSite, TextPoker } from '../ftrace/index.ts';

/** One site written by one text_poke_bp batch. */
export interface PokeRecord {
  seq: number;
  /** Guest time of the batch. */
  timeNs: bigint;
  /** Who wrote: `host`, `host (guest call)` (e.g. module init), or `cpuN (hypercall)`. */
  by: string;
  addr: bigint;
  before: Uint8Array;
  after: Uint8Array;
  /** The site's bytes after each text_poke_sync of the batch (int3, tail, head). */
  phases: Uint8Array[];
  /** Before and after disassembled when the poke happened (symbols such as trampolines may go later). */
  text: { before: string; after: string };
}

/** Disassemble `bytes` at `addr` for the record. */
export type PokeDescriber = (addr: bigint, bytes: Uint8Array) => string;

/**
 * The poke log. TextPoker writes text through the shared host buffers, which
 * no Unicorn memory hook sees, so the log wraps the poker instance's
 * textPokeBpBatch (src/ftrace is not modified) and chains its afterSync to
 * capture the three phases of each batch.
 */
export class PokeLog {
  readonly records: PokeRecord[] = [];
  readonly listeners: ((r: PokeRecord) => void)[] = [];
  private readonly original: TextPoker['textPokeBpBatch'];

  constructor(private readonly machine: Machine, private readonly poker: TextPoker, private readonly describe: PokeDescriber) {
    this.original = poker.textPokeBpBatch;
    poker.textPokeBpBatch = (batch) => this.batch(batch);
  }

  private who(): string {
    const cur = this.machine.current;
    if (!cur) return 'host';
    return cur.id < 0 ? 'host (guest call)' : `cpu${cur.id} (hypercall)`;
  }

  private batch(batch: readonly PokeSite[]): PokeMismatch | undefined {
    const mem = this.machine.mem;
    const read = (s: PokeSite): Uint8Array => Uint8Array.from(mem.isMapped(s.addr, s.new.length) ? mem.read(s.addr, s.new.length) : []);
    const before = batch.map(read);
    const phases: Uint8Array[][] = batch.map(() => []);
    const chained = this.poker.afterSync;
    this.poker.afterSync = () => {
      batch.forEach((s, i) => phases[i]!.push(read(s)));
      chained?.();
    };
    let bad: PokeMismatch | undefined;
    try {
      bad = this.original.call(this.poker, batch);
    } finally {
      this.poker.afterSync = chained;
    }
    if (bad) return bad;
    const by = this.who();
    batch.forEach((s, i) => {
      const after = read(s);
      const text = { before: this.describe(s.addr, before[i]!), after: this.describe(s.addr, after) };
      const r: PokeRecord = { seq: this.records.length + 1, timeNs: this.machine.nowNs, by, addr: s.addr, before: before[i]!, after, phases: phases[i]!, text };
      this.records.push(r);
      for (const l of this.listeners) l(r);
    });
    return undefined;
  }

  /** Put the poker back as it was. */
  detach(): void {
    this.poker.textPokeBpBatch = this.original;
  }
}
