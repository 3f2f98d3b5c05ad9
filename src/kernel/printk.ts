// printk.ts - the host half of printk: records into the guest's log buffer, and dmesg

import type { Machine } from '../../emu/machine/index.ts';
import type { Kallsyms } from './kallsyms.ts';
import { LOG } from '../abi/layout.ts';

/** A log record as dmesg reads it. */
export interface LogRecord {
  tsNs: bigint;
  level: number;
  text: string;
}

/** Kernel log levels (KERN_EMERG .. KERN_DEBUG). */
export const LogLevel = { EMERG: 0, ALERT: 1, CRIT: 2, ERR: 3, WARNING: 4, NOTICE: 5, INFO: 6, DEBUG: 7 } as const;

/**
 * The log buffer lives in guest memory (`__log_buf`, `log_next_idx`,
 * `logbuf_lock`), shared by guest printk and host-side kernel code (livepatch,
 * module loader). The host writes only between slices or inside a hypercall;
 * if a vCPU was stopped holding logbuf_lock, the host's records wait in
 * `deferred` and are flushed after the next slice (flushDeferred, called from
 * Machine.afterSlice) — like printk_deferred.
 */
export class LogBuffer {
  private readonly buf: bigint;
  private readonly next: bigint;
  private readonly lock: bigint;
  private readonly deferred: LogRecord[] = [];
  /** Host records never go back in time (a call into the guest may run on a vCPU behind the clock). */
  private lastHostTs = 0n;

  constructor(private readonly machine: Machine, syms: Kallsyms) {
    this.buf = need(syms, '__log_buf');
    this.next = need(syms, 'log_next_idx');
    this.lock = need(syms, 'logbuf_lock');
    machine.afterSlice.push(() => this.flushDeferred());
  }

  /** Append a record at the current guest time (host printk). */
  printk(level: number, text: string, tsNs?: bigint): void {
    let ts = tsNs ?? this.now();
    if (ts < this.lastHostTs) ts = this.lastHostTs;
    this.lastHostTs = ts;
    const rec = { tsNs: ts, level, text };
    if (this.deferred.length > 0 || this.machine.mem.readU64(this.lock) !== 0n) this.deferred.push(rec);
    else this.append(rec);
  }

  private now(): bigint {
    const v = this.machine.current;
    return v ? v.timeNs : this.machine.nowNs;
  }

  private flushDeferred(): void {
    while (this.deferred.length > 0 && this.machine.mem.readU64(this.lock) === 0n) this.append(this.deferred.shift()!);
  }

  private append(r: LogRecord): void {
    const mem = this.machine.mem;
    const text = Buffer.from(r.text, 'latin1');
    const total = (LOG.REC_HEADER + text.length + 7) & ~7;
    const idx = mem.readU64(this.next);
    if (idx + BigInt(total) > BigInt(LOG.BUF_LEN)) return; // full: dropped, as the guest does
    const at = this.buf + idx;
    const hdr = Buffer.alloc(LOG.REC_HEADER);
    hdr.writeBigUInt64LE(r.tsNs, LOG.REC_ts_nsec);
    hdr.writeUInt16LE(text.length, LOG.REC_text_len);
    hdr.writeUInt8(r.level, LOG.REC_level);
    mem.write(at, hdr);
    mem.write(at + BigInt(LOG.REC_HEADER), text);
    mem.writeU64(this.next, idx + BigInt(total));
  }

  /** Every record, oldest first. */
  records(): LogRecord[] {
    const mem = this.machine.mem;
    const end = mem.readU64(this.next);
    const out: LogRecord[] = [];
    let idx = 0n;
    while (idx < end) {
      const at = this.buf + idx;
      const len = mem.readU16(at + BigInt(LOG.REC_text_len));
      out.push({
        tsNs: mem.readU64(at + BigInt(LOG.REC_ts_nsec)),
        level: mem.readU8(at + BigInt(LOG.REC_level)),
        text: mem.read(at + BigInt(LOG.REC_HEADER), len).toString('latin1'),
      });
      idx += BigInt((LOG.REC_HEADER + len + 7) & ~7);
    }
    return out;
  }

  /** dmesg's format: `[    0.001234] text` per line. */
  dmesg(): string[] {
    return this.records().flatMap((r) => r.text.split('\n').map((t) => `${formatTime(r.tsNs)} ${t}`));
  }
}

/** `[%5lu.%06lu]` as printk's print_time. */
export function formatTime(ns: bigint): string {
  const s = ns / 1_000_000_000n;
  const us = (ns % 1_000_000_000n) / 1000n;
  return `[${s.toString().padStart(5, ' ')}.${us.toString().padStart(6, '0')}]`;
}

function need(syms: Kallsyms, name: string): bigint {
  const s = syms.lookup(name);
  if (!s) throw new Error(`kernel image lacks symbol ${name}`);
  return s.addr;
}
