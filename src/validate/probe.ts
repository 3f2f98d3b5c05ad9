// probe.ts - the trial's workload: reach each patched function from tasks (procfs reads) and vCPUs (direct calls)

import type { System } from '../system.ts';
import type { KSym } from '../kernel/kallsyms.ts';
import type { Engine, HookHandle } from '../../emu/types.ts';
import { UC_HOOK_CODE } from '../../emu/raw/x86Const.ts';
import { CMDLINE_LEN, PERCPU, SHELL_MAILBOX, ShellCmd, TASK } from '../abi/layout.ts';
import { disassemble } from '../asm/disasm.ts';
import { runUntil, type TrialClock } from './trialKit.ts';

/** A procfs file and its show function (fs/proc: proc_entries and modules' proc_dyn_entries). */
export interface ProcEntry {
  path: string;
  show: bigint;
}

const SEQ_SIZE = 24;
const SEQ_BUF = 4096;
const CALL_DEPTH = 6;
const CAT_NS = 5_000_000_000n;
const CAT_CPU_MS = 10_000;

/** Every /proc file the guest serves now. */
export function procEntries(sys: System): ProcEntry[] {
  const k = sys.kernel;
  const mem = k.machine.mem;
  const out: ProcEntry[] = [];
  const table = (sym: KSym | undefined, stopAtZero: boolean): void => {
    if (!sym) return;
    for (let a = sym.addr; a + 16n <= sym.addr + BigInt(sym.size); a += 16n) {
      const path = mem.readU64(a);
      if (path === 0n) {
        if (stopAtZero) return;
        continue;
      }
      if (mem.isMapped(path, 1)) out.push({ path: mem.readCString(path, 256), show: mem.readU64(a + 8n) });
    }
  };
  table(k.kallsyms.lookup('proc_entries'), true);
  table(k.kallsyms.lookup('proc_dyn_entries'), false);
  return out;
}

/** Direct call targets of a function's body (E8 rel32), as the code is now. */
function callees(sys: System, f: KSym): bigint[] {
  const mem = sys.kernel.machine.mem;
  if (!mem.isMapped(f.addr, f.size)) return [];
  return disassemble(mem.read(f.addr, f.size), f.addr)
    .filter((i) => i.mnemonic === 'call' && /^0x[0-9a-f]+$/.test(i.opStr))
    .map((i) => BigInt(i.opStr));
}

/** The procfs files whose show function calls `fn` (directly or within a few calls). */
export function procPathsReaching(sys: System, fn: bigint): ProcEntry[] {
  const ks = sys.kernel.kallsyms;
  const reaches = (start: bigint): boolean => {
    const seen = new Set<bigint>([start]);
    let frontier = [start];
    for (let d = 0; d <= CALL_DEPTH && frontier.length; d++) {
      if (frontier.includes(fn)) return true;
      const next: bigint[] = [];
      for (const a of frontier) {
        const f = ks.find(a);
        if (!f || f.addr !== a || f.type !== 'func') continue;
        for (const c of callees(sys, f)) if (!seen.has(c)) seen.add(c), next.push(c);
      }
      frontier = next;
    }
    return false;
  };
  return procEntries(sys).filter((e) => reaches(e.show));
}

/**
 * `cat PATH` by the guest shell task (klpsh.ts's mailbox protocol), with a
 * CPU-time limit so a stuck or dead task cannot hang the trial.
 */
export function catOnce(sys: System, path: string, clock: TrialClock): { out?: string; error?: string } {
  const k = sys.kernel;
  const mem = k.machine.mem;
  const box = k.sym('shell_mailbox');
  const a = (off: number): bigint => box + BigInt(off);
  if (mem.readU64(a(SHELL_MAILBOX.seq)) !== mem.readU64(a(SHELL_MAILBOX.done_seq))) return { error: 'the shell task is still busy with an earlier read' };
  const p = Buffer.alloc(CMDLINE_LEN);
  p.write(path.slice(0, CMDLINE_LEN - 1), 'latin1');
  mem.write(a(SHELL_MAILBOX.path), p);
  mem.writeU32(a(SHELL_MAILBOX.cmd), ShellCmd.CAT);
  mem.writeU64(a(SHELL_MAILBOX.out_len), 0n);
  const seq = mem.readU64(a(SHELL_MAILBOX.seq)) + 1n;
  mem.writeU64(a(SHELL_MAILBOX.seq), seq);
  const oopses = k.oopses.length;
  const done = (): boolean => mem.readU64(a(SHELL_MAILBOX.done_seq)) >= seq;
  // An oops (of the reader or anyone) ends the wait: the trial fails on it anyway.
  if (!runUntil(sys, () => done() || k.oopses.length > oopses, CAT_NS, clock, `cat ${path}`, CAT_CPU_MS) || !done()) {
    const why = k.oopses.length > oopses ? `an oops (${k.oopses[oopses]!.text}) while reading` : 'the shell task is stuck or dead';
    return { error: `cat ${path} did not finish: ${why}` };
  }
  const status = BigInt.asIntN(64, mem.readU64(a(SHELL_MAILBOX.status)));
  if (status < 0n) return { error: `read ${path}: error ${status}` };
  const len = Number(mem.readU64(a(SHELL_MAILBOX.out_len)));
  return { out: len > 0 ? mem.read(a(SHELL_MAILBOX.out), len).toString('latin1') : '' };
}

/** show(m, NULL) called from host code as CPU `cpu`, with a fresh seq_file: its output. */
export function callShow(sys: System, show: bigint, cpu: number): { out?: string; error?: string } {
  const k = sys.kernel;
  const mem = k.machine.mem;
  const m = k.vmalloc.alloc(SEQ_SIZE + SEQ_BUF, 16n);
  try {
    mem.write(m, new Uint8Array(SEQ_SIZE + SEQ_BUF));
    mem.writeU64(m, m + BigInt(SEQ_SIZE));
    mem.writeU64(m + 8n, BigInt(SEQ_BUF));
    const ret = BigInt.asIntN(32, k.callGuest(show, [m, 0n], k.machine.vcpus[cpu]));
    const count = Number(mem.readU64(m + 16n));
    const out = mem.read(m + BigInt(SEQ_SIZE), Math.min(count, SEQ_BUF)).toString('latin1');
    return ret < 0n ? { error: `show returned ${ret}`, out } : { out };
  } catch (e) {
    return { error: (e as Error).message.split('\n')[0] };
  } finally {
    k.vmalloc.release(m);
  }
}

/** The engine's internal hook registration (emu/engine.ts), used without its full tb_flush. */
interface RawHookEngine {
  addHook(type: number, proto: 'code', fn: (...a: never[]) => unknown, live: { on: boolean }, begin: bigint, end: bigint): HookHandle;
}

/**
 * A code hook on one address. Engine.addCodeHook flushes every translation,
 * and the first flush of an engine costs seconds on Unicorn 2.0.1; the hook
 * only needs the blocks containing `addr` retranslated, which the caller does
 * with Machine.syncCore. Falls back to addCodeHook if the engine changes.
 */
function addRangeHook(engine: Engine, addr: bigint, cb: () => void): HookHandle {
  const raw = engine as unknown as Partial<RawHookEngine>;
  if (typeof raw.addHook !== 'function') return engine.addCodeHook(cb, addr, addr);
  const live = { on: true };
  const h = raw.addHook.call(engine, UC_HOOK_CODE, 'code', () => {
    if (live.on) cb();
  }, live, addr, addr);
  return { remove: () => { live.on = false; h.remove(); } };
}

/** Who ran an address: per vCPU and task, counted by code hooks on every vCPU engine. */
export class ExecWatch {
  readonly hits = new Map<bigint, { cpu: number; pid: number; comm: string }[]>();
  private handles: HookHandle[] = [];

  constructor(private readonly sys: System, addrs: bigint[]) {
    const m = sys.kernel.machine;
    for (const v of m.vcpus) for (const a of addrs) this.handles.push(addRangeHook(v.engine, a, () => this.hit(a, v.id)));
    // Drop only the translations that contain the hooked addresses (see addRangeHook).
    for (const a of addrs) m.syncCore(a, a + 1n);
  }

  private hit(addr: bigint, cpu: number): void {
    const k = this.sys.kernel;
    const mem = k.machine.mem;
    const cur = mem.readU64(k.perCpu(cpu) + BigInt(PERCPU.current_task));
    const pid = cur ? mem.readI32(cur + BigInt(TASK.pid)) : -1;
    const comm = cur ? mem.readCString(cur + BigInt(TASK.comm), 16) : '?';
    const list = this.hits.get(addr) ?? this.hits.set(addr, []).get(addr)!;
    if (list.length < 1000) list.push({ cpu, pid, comm });
  }

  /** `cpu1 klpsh:5 ×3, cpu0 cat_cmdline:7 ×1` for an address. */
  summary(addr: bigint): string {
    const counts = new Map<string, number>();
    for (const h of this.hits.get(addr) ?? []) {
      const key = `cpu${h.cpu} ${h.comm}:${h.pid}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return [...counts].map(([key, n]) => `${key} ×${n}`).join(', ') || 'never';
  }

  count(addr: bigint): number {
    return this.hits.get(addr)?.length ?? 0;
  }

  remove(): void {
    for (const h of this.handles) h.remove();
    this.handles = [];
  }
}
