// vmalloc.ts - host allocations in guest memory (vmalloc area, module area): first fit, coalescing

import { EmuError } from '../../emu/errors.ts';

interface Block {
  addr: bigint;
  size: bigint;
}

/**
 * A first-fit allocator over one guest address range, used by host code that
 * creates objects the guest reads (klp_ops, ftrace_ops, trampolines, module
 * sections). Its bookkeeping is host-side; the bytes live in guest memory.
 */
export class RangeAllocator {
  private free: Block[];
  private readonly used = new Map<bigint, bigint>();

  constructor(readonly name: string, readonly base: bigint, readonly size: bigint, private readonly align = 16n) {
    this.free = [{ addr: base, size }];
  }

  /** Allocate `size` bytes aligned to `align` (default the allocator's). */
  alloc(size: number | bigint, align: bigint = this.align): bigint {
    const want = BigInt(size) > 0n ? BigInt(size) : 1n;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      const start = (b.addr + align - 1n) & ~(align - 1n);
      const end = start + want;
      if (end > b.addr + b.size) continue;
      const rest: Block[] = [];
      if (start > b.addr) rest.push({ addr: b.addr, size: start - b.addr });
      if (end < b.addr + b.size) rest.push({ addr: end, size: b.addr + b.size - end });
      this.free.splice(i, 1, ...rest);
      this.used.set(start, want);
      return start;
    }
    throw new EmuError('guest', `${this.name}: out of memory`, { size: Number(want) });
  }

  /** Free a block returned by alloc(); freeing anything else throws. */
  release(addr: bigint): void {
    const size = this.used.get(addr);
    if (size === undefined) throw new EmuError('guest', `${this.name}: bad free`, { address: addr });
    this.used.delete(addr);
    this.free.push({ addr, size });
    this.free.sort((a, b) => (a.addr < b.addr ? -1 : 1));
    const merged: Block[] = [];
    for (const f of this.free) {
      const last = merged[merged.length - 1];
      if (last && last.addr + last.size === f.addr) last.size += f.size;
      else merged.push({ ...f });
    }
    this.free = merged;
  }

  /** Bytes in use. */
  inUse(): bigint {
    let n = 0n;
    for (const s of this.used.values()) n += s;
    return n;
  }

  save(): { free: Block[]; used: [bigint, bigint][] } {
    return { free: this.free.map((b) => ({ ...b })), used: [...this.used] };
  }

  restore(s: { free: Block[]; used: [bigint, bigint][] }): void {
    this.free = s.free.map((b) => ({ ...b }));
    this.used.clear();
    for (const [a, n] of s.used) this.used.set(a, n);
  }
}
