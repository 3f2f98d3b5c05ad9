// memory.ts - guest memory: host buffers shared by every vCPU engine through uc_mem_map_ptr

import type { Engine } from '../types.ts';
import { EmuError } from '../errors.ts';

/** One mapped region: a host buffer every engine maps at `base` with `perms`. */
export interface Region {
  name: string;
  base: bigint;
  size: number;
  perms: number;
  buf: Buffer;
}

/**
 * Host-side view of guest memory. Host reads and writes go straight to the
 * shared buffers (like the kernel's text_poke through a temporary mapping),
 * so they ignore guest permissions and are seen by every vCPU at once —
 * except for already translated code, which needs Machine.syncCore().
 */
export class GuestMemory {
  readonly regions: Region[] = [];
  private last: Region | undefined;

  /** Add a region and map it into every engine given. */
  addRegion(name: string, base: bigint, size: number, perms: number, engines: Engine[]): Region {
    const buf = Buffer.alloc(size);
    const r: Region = { name, base, size, perms, buf };
    for (const other of this.regions) {
      if (base < other.base + BigInt(other.size) && other.base < base + BigInt(size)) {
        throw new EmuError('input', `region ${name} overlaps ${other.name}`, { address: base, size });
      }
    }
    for (const e of engines) e.memMapPtr(base, buf, perms);
    this.regions.push(r);
    return r;
  }

  /** Map every region into a new engine (a vCPU created after the regions). */
  mapInto(engine: Engine): void {
    for (const r of this.regions) engine.memMapPtr(r.base, r.buf, r.perms);
  }

  /** The region containing [addr, addr+size), or undefined. */
  find(addr: bigint, size = 1): Region | undefined {
    const l = this.last;
    if (l && addr >= l.base && addr + BigInt(size) <= l.base + BigInt(l.size)) return l;
    for (const r of this.regions) {
      if (addr >= r.base && addr + BigInt(size) <= r.base + BigInt(r.size)) {
        this.last = r;
        return r;
      }
    }
    return undefined;
  }

  isMapped(addr: bigint, size = 1): boolean {
    return this.find(addr, size) !== undefined;
  }

  private at(addr: bigint, size: number): [Buffer, number] {
    const r = this.find(addr, size);
    if (!r) throw new EmuError('guest', 'guest address not mapped', { address: addr, size });
    return [r.buf, Number(addr - r.base)];
  }

  read(addr: bigint, size: number): Buffer {
    const [b, off] = this.at(addr, size);
    return Buffer.from(b.subarray(off, off + size));
  }

  /** Whether guest memory at `addr` holds exactly `data` (no copy). */
  equals(addr: bigint, data: Uint8Array): boolean {
    const [b, off] = this.at(addr, data.length);
    for (let i = 0; i < data.length; i++) if (b[off + i] !== data[i]) return false;
    return true;
  }

  write(addr: bigint, data: Uint8Array): void {
    const [b, off] = this.at(addr, data.length);
    b.set(data, off);
  }

  readU8(addr: bigint): number {
    const [b, off] = this.at(addr, 1);
    return b[off]!;
  }

  readU16(addr: bigint): number {
    const [b, off] = this.at(addr, 2);
    return b.readUInt16LE(off);
  }

  readU32(addr: bigint): number {
    const [b, off] = this.at(addr, 4);
    return b.readUInt32LE(off);
  }

  readI32(addr: bigint): number {
    const [b, off] = this.at(addr, 4);
    return b.readInt32LE(off);
  }

  readU64(addr: bigint): bigint {
    const [b, off] = this.at(addr, 8);
    return b.readBigUInt64LE(off);
  }

  writeU8(addr: bigint, v: number): void {
    const [b, off] = this.at(addr, 1);
    b[off] = v & 0xff;
  }

  writeU32(addr: bigint, v: number): void {
    const [b, off] = this.at(addr, 4);
    b.writeUInt32LE(v >>> 0, off);
  }

  writeI32(addr: bigint, v: number): void {
    const [b, off] = this.at(addr, 4);
    b.writeInt32LE(v, off);
  }

  writeU64(addr: bigint, v: bigint): void {
    const [b, off] = this.at(addr, 8);
    b.writeBigUInt64LE(BigInt.asUintN(64, v), off);
  }

  /** NUL-terminated string of at most `max` bytes. */
  readCString(addr: bigint, max = 4096): string {
    const r = this.find(addr);
    if (!r) throw new EmuError('guest', 'guest address not mapped', { address: addr, size: 1 });
    const off = Number(addr - r.base);
    const end = Math.min(r.size, off + max);
    let i = off;
    while (i < end && r.buf[i] !== 0) i++;
    return r.buf.toString('latin1', off, i);
  }

  /** Copies of every region's bytes (snapshot). */
  save(): Buffer[] {
    return this.regions.map((r) => Buffer.from(r.buf));
  }

  restore(bufs: Buffer[]): void {
    if (bufs.length !== this.regions.length) {
      throw new EmuError('input', 'snapshot does not match the memory layout');
    }
    this.regions.forEach((r, i) => r.buf.set(bufs[i]!));
  }
}
