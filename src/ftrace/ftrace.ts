// ftrace.ts - kernel/trace/ftrace.c on the host: records, ftrace_ops, call rewriting of the entry nops
//
// ftrace_ops structures live in guest memory (FTRACE_OPS): the guest's
// trampolines and ftrace_ops_list_func read them. This object keeps the
// host's view (filters, trampolines, the registered list) and rewrites the
// sites through TextPoker (text_poke_bp). Ordering: the built-in trampolines'
// slots switch to the list function before sites change and to a single ops
// only after (update_ftrace_function around ftrace_replace_code).

import type { Kernel } from '../kernel/kernel.ts';
import { Errno } from '../kernel/errno.ts';
import { LogLevel } from '../kernel/printk.ts';
import { FTRACE_NOP, FTRACE_OPS, FTRACE_OPS_FL, MCOUNT_INSN_SIZE } from '../abi/layout.ts';
import { FTRACE_FL, ftraceBugLines, lookupRec, processLocs, type DynFtrace, type FtraceBugType } from './records.ts';
import { TextPoker, TP_VEC_MAX, type PokeSite } from './textPoke.ts';
import { builtinSlots, createTrampoline, freeTrampoline, type Trampoline } from './trampoline.ts';

/** The host's view of one ftrace_ops (keyed by its guest address). */
export interface OpsState {
  addr: bigint;
  filter: Set<bigint>;
  notrace: Set<bigint>;
  registered: boolean;
  trampoline?: Trampoline;
  /** Global ops (the function tracer): uses the built-in ftrace_caller, no trampoline. */
  global?: boolean;
  arrays: { filter?: { addr: bigint; cap: number }; notrace?: { addr: bigint; cap: number } };
}

/** ftrace_call_replace(): `call target` at ip, or the nop for target 0. */
export function ftraceCallInsn(ip: bigint, target: bigint, into?: Uint8Array): Uint8Array {
  const b = into ?? new Uint8Array(MCOUNT_INSN_SIZE);
  if (target === 0n) {
    b.set(FTRACE_NOP);
    return b;
  }
  const rel = Number(BigInt.asIntN(32, target - (ip + BigInt(MCOUNT_INSN_SIZE))));
  b[0] = 0xe8;
  new DataView(b.buffer, b.byteOffset, MCOUNT_INSN_SIZE).setInt32(1, rel, true);
  return b;
}

/** One record whose call target or flags change in an update. */
interface PlannedRec {
  rec: DynFtrace;
  target: bigint;
  flags: number;
}

/** ftrace_check_record()'s ftrace_bug_type for a planned change: nop -> call, call -> nop, call -> other call. */
function bugType(p: PlannedRec): FtraceBugType {
  if (p.rec.target === 0n) return 'CALL';
  return p.target === 0n ? 'NOP' : 'UPDATE';
}

export class Ftrace {
  readonly records: DynFtrace[];
  readonly poker: TextPoker;
  readonly ops = new Map<bigint, OpsState>();
  /** Registered ops, newest first (the order of ftrace_ops_list). */
  private list: bigint[] = [];
  ftraceEnabled = true;
  /** Set by ftrace_bug(): no further modification (ftrace_kill). */
  disabled = false;
  private readonly caller: bigint;
  private readonly regsCaller: bigint;

  constructor(readonly k: Kernel) {
    const range = (name: string): [bigint, bigint] => {
      const sym = k.kallsyms.lookup(name)!;
      return [sym.addr, sym.addr + BigInt(sym.size)];
    };
    this.poker = new TextPoker(k.machine, k.sym('bp_desc'), k.vmalloc, ['asm_exc_int3', 'exc_int3', 'poke_int3_handler'].map(range));
    this.caller = k.sym('ftrace_caller');
    this.regsCaller = k.sym('ftrace_regs_caller');
    const mem = k.machine.mem;
    const { records, bad } = processLocs(k.image.mcountLoc, (ip, n) => (mem.isMapped(ip, n) ? mem.read(ip, n) : undefined), k.kallsyms);
    this.records = records;
    for (const b of bad) this.bug('EINVAL', 'INIT', { ip: b.ip, flags: 0 }, b.actual, FTRACE_NOP);
    k.printk(LogLevel.INFO, `ftrace: allocating ${records.length} entries in ${Math.ceil(records.length / 170)} pages`);
  }

  private get mem() {
    return this.k.machine.mem;
  }

  /**
   * ftrace_bug(): print the report and stop modifying code (ftrace_kill).
   * `rec` is the failed record as it was before the update (its flags say
   * which trampoline it calls now: ftrace_get_addr_curr).
   */
  private bug(err: 'EINVAL' | 'EFAULT', type: FtraceBugType, rec: Pick<DynFtrace, 'ip' | 'flags'>, actual: Uint8Array, expected: Uint8Array | undefined): void {
    const sym = (a: bigint): string => this.k.kallsyms.symbolize(a);
    const tramps = rec.flags & FTRACE_FL.TRAMP_EN ? this.trampOpsOn(rec.ip).map((s) => ({ tramp: sym(s.trampoline!.addr), func: sym(this.mem.readU64(s.addr + BigInt(FTRACE_OPS.func))) })) : [];
    const lines = ftraceBugLines({ err, ip: rec.ip, sym: sym(rec.ip), actual, expected, type, flags: rec.flags, tramps, expectedTramp: this.addrCurr(rec) });
    for (const line of lines) this.k.printk(LogLevel.INFO, line);
    this.k.printk(LogLevel.WARNING, `WARNING: CPU: 0 PID: 0 at kernel/trace/ftrace.c:2140 ftrace_bug+0x1ec/0x220`);
    this.disabled = true;
  }

  /** Registered ops with a trampoline that trace `ip` (ftrace_find_tramp_ops_any/next). */
  private trampOpsOn(ip: bigint): OpsState[] {
    return this.list.map((a) => this.ops.get(a)!).filter((s) => s.trampoline && this.covers(s, ip));
  }

  /** ftrace_get_addr_curr(): the trampoline a record calls now (ftrace_caller for a nop or a new site). */
  private addrCurr(rec: Pick<DynFtrace, 'ip' | 'flags'>): bigint {
    return lookupRec(this.records, rec.ip)?.target || this.caller;
  }

  /** ftrace_module_init(): records for a module's __mcount_loc (its text is not live yet). */
  ftraceModuleInit(locs: bigint[]): void {
    const mem = this.mem;
    const { records, bad } = processLocs(locs, (ip, n) => (mem.isMapped(ip, n) ? mem.read(ip, n) : undefined), this.k.kallsyms);
    for (const b of bad) this.bug('EINVAL', 'INIT', { ip: b.ip, flags: 0 }, b.actual, FTRACE_NOP);
    this.records.push(...records);
    this.records.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
    // ftrace_module_enable(): ops already tracing everything cover the new sites too.
    if (records.length && this.list.length) this.update();
  }

  /** ftrace_release_mod(): forget a module's records (it is going away). */
  ftraceReleaseMod(lo: bigint, hi: bigint): void {
    for (let i = this.records.length - 1; i >= 0; i--) {
      const r = this.records[i]!;
      if (r.ip >= lo && r.ip < hi) {
        this.k.machine.mem.write(r.ip, FTRACE_NOP);
        this.records.splice(i, 1);
      }
    }
  }

  /** ftrace_location(ip): the record's ip if `ip` is a traceable site, else 0. */
  ftraceLocation(ip: bigint): bigint {
    return lookupRec(this.records, ip)?.ip ?? 0n;
  }

  /** The record for a function name (first match in address order). */
  recordOf(name: string): DynFtrace | undefined {
    return this.records.find((r) => r.sym.name === name);
  }

  private state(addr: bigint): OpsState {
    let s = this.ops.get(addr);
    if (!s) {
      s = { addr, filter: new Set(), notrace: new Set(), registered: false, arrays: {} };
      this.ops.set(addr, s);
    }
    return s;
  }

  private flagsOf(addr: bigint): number {
    return Number(this.mem.readU64(addr + BigInt(FTRACE_OPS.flags)));
  }

  private setFlags(addr: bigint, f: number): void {
    this.mem.writeU64(addr + BigInt(FTRACE_OPS.flags), BigInt(f >>> 0));
  }

  /** Publish a filter/notrace set to the guest as a sorted array (FTRACE_OPS.filter/notrace). */
  private writeHash(s: OpsState, which: 'filter' | 'notrace'): void {
    const ips = [...s[which]].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let arr = s.arrays[which];
    if (!arr || arr.cap < ips.length) {
      if (arr) this.k.vmalloc.release(arr.addr);
      arr = { addr: this.k.vmalloc.alloc(Math.max(ips.length, 16) * 8, 8n), cap: Math.max(ips.length, 16) };
      s.arrays[which] = arr;
    }
    ips.forEach((ip, i) => this.mem.writeU64(arr!.addr + BigInt(i * 8), ip));
    const countOff = which === 'filter' ? FTRACE_OPS.filter_count : FTRACE_OPS.notrace_count;
    const ptrOff = which === 'filter' ? FTRACE_OPS.filter : FTRACE_OPS.notrace;
    this.mem.writeU64(s.addr + BigInt(ptrOff), arr.addr);
    this.mem.writeU64(s.addr + BigInt(countOff), BigInt(ips.length));
  }

  /** ftrace_set_filter_ip(ops, ip, remove, reset) -> 0 or -errno. */
  ftraceSetFilterIp(ops: bigint, ip: bigint, remove: boolean, reset: boolean): number {
    if (this.disabled) return -Errno.ENODEV;
    if (!remove && !this.ftraceLocation(ip)) return -Errno.EINVAL;
    return this.changeHash(ops, 'filter', reset, (set) => (remove ? set.delete(ip) : set.add(ip)));
  }

  /** ftrace_set_notrace-style change of either hash by a mutation. */
  changeHash(ops: bigint, which: 'filter' | 'notrace', reset: boolean, mutate: (set: Set<bigint>) => void): number {
    if (this.disabled) return -Errno.ENODEV;
    const s = this.state(ops);
    const before = new Set(s[which]);
    if (reset) s[which].clear();
    mutate(s[which]);
    // ftrace_hash_move_and_update_ops -> __ftrace_hash_update_ipmodify: a
    // registered IPMODIFY ops may not grow onto a site another one owns.
    if (s.registered && this.flagsOf(ops) & FTRACE_OPS_FL.IPMODIFY && this.ipmodifyConflict(s)) {
      s[which] = before;
      return -Errno.EBUSY;
    }
    this.writeHash(s, which);
    if (!s.registered) return 0;
    const ret = this.update();
    if (ret < 0) {
      s[which] = before;
      this.writeHash(s, which);
    }
    return ret;
  }

  /** The sites an ops traces: its filter (all sites when empty) minus its notrace. */
  covered(s: OpsState): bigint[] {
    const base = s.filter.size ? [...s.filter] : this.records.map((r) => r.ip);
    return base.filter((ip) => !s.notrace.has(ip));
  }

  /** register_ftrace_function(ops) -> 0 or -errno. */
  registerFtraceFunction(ops: bigint, opts: { global?: boolean } = {}): number {
    if (this.disabled) return -Errno.ENODEV;
    const s = this.state(ops);
    const flags = this.flagsOf(ops);
    if (s.registered || flags & FTRACE_OPS_FL.ENABLED) return -Errno.EBUSY;
    if (flags & FTRACE_OPS_FL.PERMANENT && !this.ftraceEnabled) return -Errno.EBUSY;
    if (flags & FTRACE_OPS_FL.IPMODIFY && this.ipmodifyConflict(s)) return -Errno.EBUSY;
    s.global = opts.global ?? false;
    if (!s.global) {
      const regs = (flags & (FTRACE_OPS_FL.SAVE_REGS | FTRACE_OPS_FL.IPMODIFY)) !== 0;
      s.trampoline = createTrampoline(this.k, regs, ops, this.mem.readU64(ops + BigInt(FTRACE_OPS.func)));
      this.mem.writeU64(ops + BigInt(FTRACE_OPS.trampoline), s.trampoline.addr);
    }
    this.writeHash(s, 'filter');
    this.writeHash(s, 'notrace');
    s.registered = true;
    this.list.unshift(ops);
    this.linkList();
    this.setFlags(ops, flags | FTRACE_OPS_FL.ENABLED | FTRACE_OPS_FL.INITIALIZED | (s.trampoline ? FTRACE_OPS_FL.ALLOC_TRAMP : 0));
    const ret = this.update();
    if (ret < 0) this.unlink(s, flags);
    return ret;
  }

  /** unregister_ftrace_function(ops) -> 0 or -errno. */
  unregisterFtraceFunction(ops: bigint): number {
    if (this.disabled) return -Errno.ENODEV;
    const s = this.ops.get(ops);
    if (!s?.registered) return -Errno.EBUSY;
    const flags = this.flagsOf(ops) & ~(FTRACE_OPS_FL.ENABLED | FTRACE_OPS_FL.ALLOC_TRAMP);
    this.unlink(s, flags);
    const ret = this.update();
    if (s.trampoline) {
      freeTrampoline(this.k, s.trampoline);
      s.trampoline = undefined;
      this.mem.writeU64(ops + BigInt(FTRACE_OPS.trampoline), 0n);
    }
    return ret;
  }

  private unlink(s: OpsState, flags: number): void {
    s.registered = false;
    this.list = this.list.filter((a) => a !== s.addr);
    this.linkList();
    this.setFlags(s.addr, flags);
  }

  /** A second IPMODIFY ops on a site already owned by one fails (ftrace_hash_ipmodify_enable). */
  private ipmodifyConflict(s: OpsState): boolean {
    const mine = new Set(this.covered(s));
    for (const a of this.list) {
      const other = this.ops.get(a)!;
      if (a === s.addr || !(this.flagsOf(a) & FTRACE_OPS_FL.IPMODIFY)) continue;
      if (this.covered(other).some((ip) => mine.has(ip))) return true;
    }
    return false;
  }

  /** ftrace_ops_list in guest memory: head pointer and `next` links. */
  private linkList(): void {
    this.mem.writeU64(this.k.sym('ftrace_ops_list'), this.list[0] ?? 0n);
    this.list.forEach((a, i) => this.mem.writeU64(a + BigInt(FTRACE_OPS.next), this.list[i + 1] ?? 0n));
  }

  /** The sysctl kernel.ftrace_enabled (0 fails with -EBUSY while a PERMANENT ops is registered). */
  setFtraceEnabled(on: boolean): number {
    if (!on && this.list.some((a) => this.flagsOf(a) & FTRACE_OPS_FL.PERMANENT)) return -Errno.EBUSY;
    this.ftraceEnabled = on;
    return this.update();
  }

  /** Registered ops that trace `ip`, in list order. */
  opsOn(ip: bigint): OpsState[] {
    if (!this.ftraceEnabled) return [];
    return this.list.map((a) => this.ops.get(a)!).filter((s) => this.covered(s).includes(ip));
  }

  /** Point the built-in trampolines at the list function, or at the only registered ops. */
  private setBuiltinFunc(single: boolean): void {
    const only = single && this.list.length === 1 ? this.list[0]! : undefined;
    // No ops at all: back to ftrace_stub, the image's own bytes.
    const idle = single && this.list.length === 0;
    const func = idle ? this.k.sym('ftrace_stub') : only !== undefined ? this.mem.readU64(only + BigInt(FTRACE_OPS.func)) : this.k.sym('ftrace_ops_list_func');
    for (const regs of [false, true]) {
      const slots = builtinSlots(this.k, regs);
      this.mem.writeU64(slots.opSlot, only ?? 0n);
      this.mem.writeU64(slots.funcSlot, func);
    }
  }

  /** Whether a registered ops traces `ip`: its filter (all when empty) minus its notrace. */
  private covers(s: OpsState, ip: bigint): boolean {
    return (s.filter.size === 0 || s.filter.has(ip)) && !s.notrace.has(ip);
  }

  /**
   * The records whose call or flags must change (ftrace_check_record over
   * every record). Allocates per changed record only: at 50k sites the
   * update's garbage was a third of its time.
   */
  private plan(): PlannedRec[] {
    const ops = this.ftraceEnabled ? this.list.map((a) => ({ s: this.ops.get(a)!, f: this.flagsOf(a) })) : [];
    const out: PlannedRec[] = [];
    for (const rec of this.records) {
      let n = 0;
      let flags = 0;
      let only: OpsState | undefined;
      for (const o of ops) {
        if (!this.covers(o.s, rec.ip)) continue;
        n++;
        only = o.s;
        if (o.f & FTRACE_OPS_FL.SAVE_REGS) flags |= FTRACE_FL.REGS;
        if (o.f & FTRACE_OPS_FL.IPMODIFY) flags |= FTRACE_FL.IPMODIFY;
      }
      flags |= n;
      const tramp = n === 1 ? only!.trampoline : undefined;
      if (tramp) flags |= FTRACE_FL.TRAMP;
      const target = n === 0 ? 0n : tramp ? tramp.addr : flags & FTRACE_FL.REGS ? this.regsCaller : this.caller;
      if (n) flags |= FTRACE_FL.ENABLED | (flags & FTRACE_FL.REGS ? FTRACE_FL.REGS_EN : 0) | (tramp ? FTRACE_FL.TRAMP_EN : 0);
      if (target !== rec.target || flags !== rec.flags) out.push({ rec, target, flags });
    }
    return out;
  }

  /**
   * ftrace_replace_code(): bring every site to its planned call. All old bytes
   * are verified before anything is written; a mismatch is an ftrace_bug and
   * leaves the text as it was.
   */
  update(): number {
    if (this.disabled) return -Errno.ENODEV;
    const plan = this.plan();
    const moving = plan.filter((p) => p.target !== p.rec.target);
    // Verify every site before writing any (one scratch buffer, no garbage per site).
    const scratch = new Uint8Array(MCOUNT_INSN_SIZE);
    for (const p of moving) {
      const old = ftraceCallInsn(p.rec.ip, p.rec.target, scratch);
      if (!this.mem.equals(p.rec.ip, old)) {
        this.bug('EINVAL', bugType(p), p.rec, Uint8Array.from(this.mem.read(p.rec.ip, MCOUNT_INSN_SIZE)), Uint8Array.from(old));
        return -Errno.EINVAL;
      }
    }
    this.setBuiltinFunc(false);
    // text_poke_queue/finish: PokeSites are built one TP_VEC_MAX batch at a
    // time, so a 50k-site update does not keep 50k of them alive.
    for (let i = 0; i < moving.length; i += TP_VEC_MAX) {
      const batch = moving.slice(i, i + TP_VEC_MAX);
      const bytes = new Uint8Array(batch.length * 2 * MCOUNT_INSN_SIZE);
      const sites: PokeSite[] = batch.map((p, j) => {
        const at = j * 2 * MCOUNT_INSN_SIZE;
        return {
          addr: p.rec.ip,
          old: ftraceCallInsn(p.rec.ip, p.rec.target, bytes.subarray(at, at + MCOUNT_INSN_SIZE)),
          new: ftraceCallInsn(p.rec.ip, p.target, bytes.subarray(at + MCOUNT_INSN_SIZE, at + 2 * MCOUNT_INSN_SIZE)),
        };
      });
      const bad = this.poker.textPokeBpBatch(sites);
      if (bad) {
        const p = batch.find((x) => x.rec.ip === bad.site.addr)!;
        this.bug('EINVAL', bugType(p), p.rec, bad.actual, bad.site.old);
        return -Errno.EINVAL;
      }
    }
    for (const p of plan) {
      p.rec.target = p.target;
      p.rec.flags = p.flags;
    }
    this.setBuiltinFunc(true);
    return 0;
  }
}
