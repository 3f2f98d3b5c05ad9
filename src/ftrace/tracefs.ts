// tracefs.ts - /sys/kernel/tracing: function lists, filters, the function tracer and its trace
//
// The function tracer is a second ftrace user written in guest code
// (function_trace_call in kernel-image/ftrace_64.S, recording into
// trace_ring); its ops is the "global ops", filtered by set_ftrace_filter /
// set_ftrace_notrace, and calls the built-in ftrace_caller (no trampoline).

import type { Kernel } from '../kernel/kernel.ts';
import { Errno } from '../kernel/errno.ts';
import { FTRACE_OPS, TRACE_ENTRY, TRACE_RING_ENTRIES, TASK_COMM_LEN } from '../abi/layout.ts';
import { FTRACE_FL, ftraceRecCount } from './records.ts';
import type { Ftrace, OpsState } from './ftrace.ts';

const TRACING = '/sys/kernel/tracing';

/** A shell glob (`*`, `?`) as a RegExp over the whole name. */
export function globToRegExp(glob: string): RegExp {
  const esc = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${esc}$`);
}

/** One trace entry read back from the guest ring. */
export interface TraceEntry {
  ip: bigint;
  parentIp: bigint;
  ts: bigint;
  cpu: number;
  pid: number;
  comm: string;
}

export class Tracefs {
  /** The function tracer's ops (global_ops), in the vmalloc area. */
  readonly globalOps: bigint;
  currentTracer: 'nop' | 'function' = 'nop';

  constructor(private readonly k: Kernel, private readonly ft: Ftrace) {
    this.globalOps = k.vmalloc.alloc(FTRACE_OPS.SIZE, 16n);
    k.machine.mem.writeU64(this.globalOps + BigInt(FTRACE_OPS.func), k.sym('function_trace_call'));
    this.createFiles();
  }

  private createFiles(): void {
    const vfs = this.k.vfs;
    vfs.createFile(`${TRACING}/available_filter_functions`, { mode: 0o444, show: () => this.availableFilterFunctions() });
    vfs.createFile(`${TRACING}/enabled_functions`, { mode: 0o444, show: () => this.enabledFunctions() });
    vfs.createFile(`${TRACING}/available_tracers`, { mode: 0o444, show: () => 'function nop\n' });
    vfs.createFile(`${TRACING}/current_tracer`, { mode: 0o644, show: () => `${this.currentTracer}\n`, store: (v) => this.setTracer(v.trim(), v.length) });
    vfs.createFile(`${TRACING}/set_ftrace_filter`, { mode: 0o644, show: () => this.showHash('filter'), store: (v) => this.storeHash('filter', v) });
    vfs.createFile(`${TRACING}/set_ftrace_notrace`, { mode: 0o644, show: () => this.showHash('notrace'), store: (v) => this.storeHash('notrace', v) });
    vfs.createFile(`${TRACING}/trace`, { mode: 0o644, show: () => this.trace(), store: (v) => this.clearTrace(v.length) });
    vfs.createFile(`${TRACING}/tracing_on`, { mode: 0o644, show: () => `${this.tracingOn() ? 1 : 0}\n`, store: (v) => this.setTracingOn(v) });
    vfs.createFile('/proc/sys/kernel/ftrace_enabled', {
      mode: 0o644,
      show: () => `${this.ft.ftraceEnabled ? 1 : 0}\n`,
      store: (v) => {
        const t = v.trim();
        if (t !== '0' && t !== '1') return -Errno.EINVAL;
        const r = this.ft.setFtraceEnabled(t === '1');
        return r < 0 ? r : v.length;
      },
    });
  }

  private name(ip: bigint): string {
    const s = this.k.kallsyms.find(ip);
    if (!s) return `0x${ip.toString(16)}`;
    return s.obj === 'vmlinux' ? s.name : `${s.name} [${s.obj}]`;
  }

  availableFilterFunctions(): string {
    return this.ft.records.map((r) => `${this.name(r.ip)}\n`).join('');
  }

  /** enabled_functions: `name (refs) R I D O M` and the trampoline of a single-ops site. */
  enabledFunctions(): string {
    let out = '';
    for (const r of this.ft.records) {
      if (ftraceRecCount(r) === 0) continue;
      const f = r.flags;
      out += `${this.name(r.ip)} (${ftraceRecCount(r)})${f & FTRACE_FL.REGS ? ' R' : '  '}${f & FTRACE_FL.IPMODIFY ? ' I' : '  '}`;
      out += `${f & FTRACE_FL.DIRECT ? ' D' : '  '}${f & FTRACE_FL.CALL_OPS ? ' O' : '  '}${f & FTRACE_FL.MODIFIED ? ' M ' : '   '}`;
      if (f & FTRACE_FL.TRAMP_EN) {
        const ops = this.ft.opsOn(r.ip).find((s) => s.trampoline);
        if (ops) {
          const func = this.k.machine.mem.readU64(ops.addr + BigInt(FTRACE_OPS.func));
          out += `\ttramp: ${this.k.kallsyms.symbolize(ops.trampoline!.addr)} (${this.k.kallsyms.symbolize(func)}) ->${this.k.kallsyms.symbolize(func)}`;
        } else out += '\ttramp: ERROR!';
      }
      out += '\n';
    }
    return out;
  }

  private global(): OpsState | undefined {
    return this.ft.ops.get(this.globalOps);
  }

  private showHash(which: 'filter' | 'notrace'): string {
    const set = this.global()?.[which] ?? new Set<bigint>();
    if (set.size === 0) return which === 'filter' ? '#### all functions enabled ####\n' : '#### no functions disabled ####\n';
    return [...set].sort((a, b) => (a < b ? -1 : 1)).map((ip) => `${this.name(ip)}\n`).join('');
  }

  /** `echo 'glob [glob...]' > set_ftrace_filter`; `!glob` removes; no match is -EINVAL. */
  storeHash(which: 'filter' | 'notrace', value: string): number {
    const words = value.split(/\s+/).filter(Boolean);
    const adds = new Set<bigint>();
    const dels = new Set<bigint>();
    for (const w of words) {
      const neg = w.startsWith('!');
      const re = globToRegExp(neg ? w.slice(1) : w);
      const hits = this.ft.records.filter((r) => re.test(r.sym.name));
      if (hits.length === 0) return -Errno.EINVAL;
      for (const h of hits) (neg ? dels : adds).add(h.ip);
    }
    const reset = words.length === 0 || !words.every((w) => w.startsWith('!'));
    const r = this.ft.changeHash(this.globalOps, which, reset, (set) => {
      for (const ip of adds) set.add(ip);
      for (const ip of dels) set.delete(ip);
    });
    return r < 0 ? r : value.length;
  }

  setTracer(name: string, len: number): number {
    if (name !== 'nop' && name !== 'function') return -Errno.EINVAL;
    if (name === this.currentTracer) return len;
    const r = name === 'function' ? this.ft.registerFtraceFunction(this.globalOps, { global: true }) : this.ft.unregisterFtraceFunction(this.globalOps);
    if (r < 0) return r;
    this.currentTracer = name;
    return len;
  }

  /** tracing_on (rb_simple_read): whether function_trace_call records into the ring. */
  tracingOn(): boolean {
    return this.k.machine.mem.readU32(this.k.sym('tracing_on')) !== 0;
  }

  /** rb_simple_write(): kstrtoul, then tracer_tracing_on/off; the guest reads the flag at every call. */
  private setTracingOn(value: string): number {
    const t = value.trim();
    if (!/^(0x[0-9a-f]+|\d+)$/i.test(t)) return -Errno.EINVAL;
    this.k.machine.mem.writeU32(this.k.sym('tracing_on'), BigInt(t) !== 0n ? 1 : 0);
    return value.length;
  }

  /** Entries of the guest ring, oldest first. */
  entries(): TraceEntry[] {
    const mem = this.k.machine.mem;
    const head = Number(mem.readU64(this.k.sym('trace_ring_head')));
    const ring = this.k.sym('trace_ring');
    const n = Math.min(head, TRACE_RING_ENTRIES);
    const out: TraceEntry[] = [];
    for (let i = head - n; i < head; i++) {
      const at = ring + BigInt((i % TRACE_RING_ENTRIES) * TRACE_ENTRY.SIZE);
      out.push({
        ip: mem.readU64(at + BigInt(TRACE_ENTRY.ip)), parentIp: mem.readU64(at + BigInt(TRACE_ENTRY.parent_ip)),
        ts: mem.readU64(at + BigInt(TRACE_ENTRY.ts)), cpu: mem.readU32(at + BigInt(TRACE_ENTRY.cpu)),
        pid: mem.readI32(at + BigInt(TRACE_ENTRY.pid)), comm: mem.readCString(at + BigInt(TRACE_ENTRY.comm), TASK_COMM_LEN),
      });
    }
    return out;
  }

  /** Opening `trace` for write truncates it (tracing_open's O_TRUNC); tracing_write_stub takes every byte. */
  private clearTrace(count: number): number {
    this.k.machine.mem.writeU64(this.k.sym('trace_ring_head'), 0n);
    return count;
  }

  /** The `trace` file in the function tracer's format. */
  trace(): string {
    const es = this.entries();
    const written = Number(this.k.machine.mem.readU64(this.k.sym('trace_ring_head')));
    const head = [
      `# tracer: ${this.currentTracer}`, '#', `# entries-in-buffer/entries-written: ${es.length}/${written}   #P:${this.k.machine.vcpus.length}`, '#',
      '#                                _-----=> irqs-off/BH-disabled', '#                               / _----=> need-resched',
      '#                              | / _---=> hardirq/softirq', '#                              || / _--=> preempt-depth',
      '#                              ||| / _-=> migrate-disable', '#                              |||| /     delay',
      '#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION', '#              | |         |   |||||     |         |',
    ];
    const sym = (ip: bigint): string => this.k.kallsyms.find(ip)?.name ?? `0x${ip.toString(16)}`;
    const lines = es.map((e) => {
      const secs = (e.ts / 1_000_000_000n).toString().padStart(5);
      const us = ((e.ts % 1_000_000_000n) / 1000n).toString().padStart(6, '0');
      return `${e.comm.padStart(16)}-${String(e.pid).padEnd(7)} [${String(e.cpu).padStart(3, '0')}] ..... ${secs}.${us}: ${sym(e.ip)} <-${sym(e.parentIp)}`;
    });
    return [...head, ...lines].join('\n') + '\n';
  }
}
