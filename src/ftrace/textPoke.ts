// textPoke.ts - text_poke_bp batches (arch/x86/kernel/alternative.c): int3, sync, tail, sync, head, sync
//
// The host writes kernel text through the shared buffers (the temporary
// writable mapping of text_poke), never through a writable guest mapping.
// While a batch is live, bp_desc in guest memory describes it and the guest's
// poke_int3_handler (kernel-image/alternative.S) emulates the instruction
// being installed for any vCPU that hits an int3; bp_desc is published before
// the first int3 write and cleared only after the final sync (its partner).

import type { Machine } from '../../emu/machine/index.ts';
import { BP_PATCHING, Opcode, PAGE_SIZE, TEXT_POKE_LOC } from '../abi/layout.ts';
import type { RangeAllocator } from '../kernel/vmalloc.ts';

/** One site of a batch: expected old bytes and the new ones (same length). */
export interface PokeSite {
  addr: bigint;
  old: Uint8Array;
  new: Uint8Array;
}

/** Why a batch was refused: the first site whose bytes were not the expected old ones. */
export interface PokeMismatch {
  site: PokeSite;
  actual: Uint8Array;
}

/** TP_VEC_MAX: sites per batch (PAGE_SIZE / sizeof(struct text_poke_loc)). */
export const TP_VEC_MAX = PAGE_SIZE / TEXT_POKE_LOC.SIZE;

/** The opcode poke_int3_handler emulates for `insn` (text_poke_loc_init). */
export function pokeOpcode(insn: Uint8Array): { opcode: number; disp: number } {
  const b0 = insn[0]!;
  const view = Buffer.from(insn.buffer, insn.byteOffset, insn.byteLength);
  if (b0 === Opcode.CALL || b0 === Opcode.JMP32) return { opcode: b0, disp: view.readInt32LE(1) };
  if (b0 === Opcode.JMP8) return { opcode: b0, disp: view.readInt8(1) };
  if (b0 === Opcode.INT3) return { opcode: Opcode.INT3, disp: 0 };
  return { opcode: Opcode.NOP, disp: 0 };
}

/**
 * The patcher. `syncs` counts text_poke_sync() calls (three per batch);
 * `afterSync`, when set, runs after each sync — tests use it to let the
 * other vCPUs execute between the phases, as real CPUs would.
 */
export class TextPoker {
  syncs = 0;
  batches = 0;
  afterSync: (() => void) | undefined;
  /** Times a sync had to let a vCPU finish an int3 it had already taken. */
  int3Waits = 0;
  private vec: bigint | undefined;

  /**
   * `int3Path`: the [start, end) ranges of the int3 entry (asm_exc_int3,
   * exc_int3, poke_int3_handler): a vCPU stopped there runs with IRQs off.
   */
  constructor(
    private readonly machine: Machine,
    private readonly bpDesc: bigint,
    private readonly vmalloc: RangeAllocator,
    private readonly int3Path: readonly (readonly [bigint, bigint])[] = [],
  ) {}

  private textPokeSync(lo: bigint, hi: bigint): void {
    this.machine.syncCore(lo, hi);
    this.syncs++;
    this.afterSync?.();
    this.waitInt3Handlers();
  }

  /** vCPUs stopped (not running a slice) inside the int3 entry path. */
  private inInt3(): number[] {
    return this.machine.vcpus
      .filter((v) => !v.dead && !v.running)
      .filter((v) => {
        const rip = v.engine.regRead('rip');
        return this.int3Path.some(([a, b]) => rip >= a && rip < b);
      })
      .map((v) => v.id);
  }

  /**
   * The sync IPI (on_each_cpu(do_sync_core)) cannot complete on a CPU that
   * took an int3 and still runs its handler with IRQs off; the kernel then
   * also waits for bp_desc.refs. Here the sync is instantaneous, so run the
   * machine until no vCPU is inside the int3 path: bp_desc is cleared after
   * the last sync (its partner in textPokeBpBatch), never under a vCPU that
   * has yet to look it up. Inside a hypercall no other vCPU ran since the
   * batch began, so none can be there.
   */
  private waitInt3Handlers(): void {
    if (this.int3Path.length === 0 || this.inInt3().length === 0) return;
    if (this.machine.vcpus.some((v) => v.running)) throw new Error(`text_poke_sync: vCPU ${this.inInt3().join(',')} is in the int3 handler and the machine is inside a slice`);
    this.int3Waits++;
    const done = this.machine.runUntil(() => this.inInt3().length === 0, { maxNs: 1_000_000_000n });
    if (!done && !this.machine.panicMessage) throw new Error(`text_poke_sync: vCPU ${this.inInt3().join(',')} never left the int3 handler`);
  }

  /** Write bp_desc's vector for a batch, sorted by address (the handler bsearches it). */
  private publish(sites: readonly PokeSite[]): void {
    const mem = this.machine.mem;
    this.vec ??= this.vmalloc.alloc(PAGE_SIZE, BigInt(PAGE_SIZE));
    sites.forEach((s, i) => {
      const at = this.vec! + BigInt(i * TEXT_POKE_LOC.SIZE);
      const { opcode, disp } = pokeOpcode(s.new);
      mem.writeU64(at + BigInt(TEXT_POKE_LOC.addr), s.addr);
      mem.writeU32(at + BigInt(TEXT_POKE_LOC.disp), disp >>> 0);
      mem.writeU8(at + BigInt(TEXT_POKE_LOC.len), s.new.length);
      mem.writeU8(at + BigInt(TEXT_POKE_LOC.opcode), opcode);
    });
    mem.writeU64(this.bpDesc + BigInt(BP_PATCHING.nr_entries), BigInt(sites.length));
    mem.writeU64(this.bpDesc + BigInt(BP_PATCHING.vec), this.vec);
  }

  /**
   * text_poke_bp_batch(): every site's current bytes must equal its old bytes,
   * else nothing is written and the first mismatch is returned.
   */
  textPokeBpBatch(batch: readonly PokeSite[]): PokeMismatch | undefined {
    if (batch.length === 0) return undefined;
    if (batch.length > TP_VEC_MAX) throw new RangeError(`batch of ${batch.length} > TP_VEC_MAX ${TP_VEC_MAX}`);
    const mem = this.machine.mem;
    for (const site of batch) {
      if (!mem.equals(site.addr, site.old)) return { site, actual: Uint8Array.from(mem.read(site.addr, site.old.length)) };
    }
    const sites = [...batch].sort((a, b) => (a.addr < b.addr ? -1 : 1));
    const lo = sites[0]!.addr;
    const hi = sites[sites.length - 1]!.addr + BigInt(sites[sites.length - 1]!.new.length);
    this.publish(sites);
    this.batches++;
    for (const s of sites) mem.writeU8(s.addr, Opcode.INT3);
    this.textPokeSync(lo, hi);
    let tail = false;
    for (const s of sites) {
      if (s.new.length > 1) {
        mem.write(s.addr + 1n, s.new.subarray(1));
        tail = true;
      }
    }
    if (tail) this.textPokeSync(lo, hi);
    for (const s of sites) mem.writeU8(s.addr, s.new[0]!);
    this.textPokeSync(lo, hi);
    mem.writeU64(this.bpDesc + BigInt(BP_PATCHING.vec), 0n);
    mem.writeU64(this.bpDesc + BigInt(BP_PATCHING.nr_entries), 0n);
    return undefined;
  }

  /** text_poke_queue/finish: any number of sites, in TP_VEC_MAX batches; stops at the first mismatch. */
  textPokeAll(sites: readonly PokeSite[]): PokeMismatch | undefined {
    for (let i = 0; i < sites.length; i += TP_VEC_MAX) {
      const bad = this.textPokeBpBatch(sites.slice(i, i + TP_VEC_MAX));
      if (bad) return bad;
    }
    return undefined;
  }
}
