// engine.ts - UnicornEngine: the typed Engine over raw libunicorn (status → EmuError, pinned hooks, capture-stop-rethrow)

import koffi from 'koffi';
import type {
  CodeHook, Engine, HookHandle, InterruptHook, InvalidMemHook, MemRegion, MemWriteHook,
  NativeBlockCounterHandle, NativeSyscallHandle, OutHook, SyscallHook, TableReg, X86Reg,
} from './types.ts';
import { NativeBlockCounterData, NativeSyscallData } from './nativeSyscall.ts';
import { EmuError, hexAddr, ucError } from './errors.ts';
import { loadUnicorn, type CallbackTypes, type Ptr, type UnicornLib } from './raw/unicorn.ts';
import * as C from './raw/x86Const.ts';
import { MEM_ACCESS, MSR_EFER, REG_IDS } from './x86.ts';

/** Hook range meaning "every address" (Unicorn: begin > end). */
const ALL_BEGIN = 1n;
const ALL_END = 0n;
/** Most registers a batch call can carry; larger batches are split. */
const BATCH_MAX = 64;
/** memRead/memWrite up to this size go through a preallocated off-heap scratch buffer. */
const SMALL_IO = 4096;
/** sizeof(uc_mem_region) {u64 begin; u64 end; u32 perms} with padding. */
const REGION_SIZE = 24;
/** Bytes of the uc_context header (context_size u64, mode u32, arch u32) in 2.0.1. */
const CONTEXT_HEADER = 16;

/** Liveness flag shared by a hook's wrapper and its HookHandle. */
interface Live {
  on: boolean;
}

/** Koffi hands uint64_t to JS as a Number when it fits, else a BigInt. */
function big(v: number | bigint): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}

/** Preallocated off-heap scratch memory, so hot paths pass stable pointers without allocating. */
class Scratch {
  readonly reg = new BigUint64Array(new ArrayBuffer(8));
  readonly out = new BigUint64Array(new ArrayBuffer(8));
  readonly count = new Uint32Array(new ArrayBuffer(4));
  readonly ids = new Int32Array(new ArrayBuffer(4 * BATCH_MAX));
  readonly vals = new BigUint64Array(new ArrayBuffer(8 * BATCH_MAX));
  readonly ptrs = new BigUint64Array(new ArrayBuffer(8 * BATCH_MAX));
  /** uc_x86_mmr {u16 selector; u64 base @8; u32 limit @16; u32 flags @20} */
  readonly mmr = new Uint8Array(new ArrayBuffer(24));
  /** uc_x86_msr {u32 rid; u64 value @8} */
  readonly msr = new Uint8Array(new ArrayBuffer(16));
  readonly io = new Uint8Array(new ArrayBuffer(SMALL_IO));
  readonly mmrView = new DataView(this.mmr.buffer);
  readonly msrView = new DataView(this.msr.buffer);

  constructor() {
    const base = koffi.address(this.vals);
    for (let i = 0; i < BATCH_MAX; i++) this.ptrs[i] = base + BigInt(8 * i);
  }
}

/**
 * One x86-64 CPU on a Unicorn 2 engine. Not re-entrant across threads; one per vCPU.
 * Call close() when done: registered hooks pin the engine (and their callbacks) until then.
 */
export class UnicornEngine implements Engine {
  private uc: Ptr;
  private readonly lib: UnicornLib;
  private readonly cbTypes: CallbackTypes;
  private readonly libName: string;
  /** Data blocks of native syscall hooks: referenced until close (a deleted hook still runs until its run ends). */
  private readonly nativeData: (NativeSyscallData | NativeBlockCounterData)[] = [];
  private readonly s = new Scratch();
  /** uc_hook handle → koffi registered callback: pinned for the life of the hook. */
  private readonly hooks = new Map<bigint, bigint>();
  /** Callbacks removed while emulation runs: unregistered after uc_emu_start returns. */
  private deferredUnregister: bigint[] = [];
  /** memMapPtr buffers by guest address: kept referenced for the life of the mapping. */
  private readonly ptrMappings = new Map<bigint, Uint8Array>();
  /** First exception thrown by a hook during the current emuStart (capture-stop-rethrow). */
  private pending: { error: unknown } | undefined;
  private running = 0;
  private counting = false;
  /** Set by the first emuStart: before it no translation can exist, so memWrite skips invalidation. */
  private translated = false;
  private ctx: Ptr = 0n;
  private ctxSize = 0;

  constructor() {
    const u = loadUnicorn();
    this.lib = u.lib;
    this.cbTypes = u.callbacks;
    this.libName = u.name;
    const st = this.lib.uc_open(C.UC_ARCH_X86, C.UC_MODE_64, this.s.out);
    this.uc = 0n;
    this.check(st, 'uc_open');
    this.uc = this.s.out[0];
  }

  /** @throws EmuError kind 'closed' after close() */
  private handle(): Ptr {
    if (this.uc === 0n) throw new EmuError('closed', 'engine used after close()', { op: 'engine' });
    return this.uc;
  }

  private check(st: number, op: string, address?: bigint, size?: number): void {
    if (st !== 0) throw ucError(op, st, this.lib.uc_strerror(st), address, size);
  }

  /** Release hooks, the saved context and the engine. Idempotent. */
  close(): void {
    if (this.uc === 0n) return;
    const uc = this.uc;
    if (this.ctx !== 0n) this.lib.uc_context_free(this.ctx);
    this.ctx = 0n;
    this.uc = 0n;
    this.lib.uc_close(uc);
    for (const cb of this.hooks.values()) koffi.unregister(cb);
    for (const cb of this.deferredUnregister) koffi.unregister(cb);
    this.hooks.clear();
    this.deferredUnregister = [];
    this.ptrMappings.clear();
    this.nativeData.length = 0;
  }

  // ---- memory ---------------------------------------------------------------------------------

  memMap(address: bigint, size: number, perms: number): void {
    this.check(this.lib.uc_mem_map(this.handle(), address, size, perms), 'uc_mem_map', address, size);
  }

  /**
   * Map `buf` itself as guest memory (no copy): koffi passes the ArrayBuffer backing store, which
   * V8 never moves, and the engine keeps `buf` referenced until the range is unmapped or closed.
   */
  memMapPtr(address: bigint, buf: Uint8Array, perms: number): void {
    const size = buf.byteLength;
    this.check(this.lib.uc_mem_map_ptr(this.handle(), address, size, perms, buf), 'uc_mem_map_ptr', address, size);
    this.ptrMappings.set(address, buf);
  }

  memUnmap(address: bigint, size: number): void {
    this.check(this.lib.uc_mem_unmap(this.handle(), address, size), 'uc_mem_unmap', address, size);
    const end = address + BigInt(size);
    for (const [at, buf] of this.ptrMappings) {
      if (at >= address && at + BigInt(buf.byteLength) <= end) this.ptrMappings.delete(at);
    }
  }

  memProtect(address: bigint, size: number, perms: number): void {
    this.check(this.lib.uc_mem_protect(this.handle(), address, size, perms), 'uc_mem_protect', address, size);
  }

  /** @returns a fresh copy of guest memory. @throws EmuError (op 'uc_mem_read', address, size) */
  memRead(address: bigint, size: number): Uint8Array {
    const h = this.handle();
    if (size <= SMALL_IO) {
      this.check(this.lib.uc_mem_read(h, address, this.s.io, size), 'uc_mem_read', address, size);
      return this.s.io.slice(0, size);
    }
    const out = new Uint8Array(size);
    this.check(this.lib.uc_mem_read(h, address, out, size), 'uc_mem_read', address, size);
    return out;
  }

  /**
   * Write guest memory and drop translations of the range, as a CPU's own stores are coherent
   * with its instruction stream (uc_mem_write alone leaves stale blocks on 2.0.1, measured).
   * Other engines sharing the memory still need tbRemoveCache: that is sync_core.
   */
  memWrite(address: bigint, data: Uint8Array): void {
    const h = this.handle();
    const size = data.byteLength;
    let src = data;
    if (size <= SMALL_IO) {
      this.s.io.set(data);
      src = this.s.io;
    }
    this.check(this.lib.uc_mem_write(h, address, src, size), 'uc_mem_write', address, size);
    if (this.translated && size > 0) this.tbRemoveCache(address, address + BigInt(size));
  }

  memRegions(): MemRegion[] {
    const h = this.handle();
    this.check(this.lib.uc_mem_regions(h, this.s.out, this.s.count), 'uc_mem_regions');
    const ptr = this.s.out[0];
    const n = this.s.count[0];
    if (n === 0 || ptr === 0n) return [];
    const view = new DataView(koffi.view(ptr, n * REGION_SIZE));
    const out: MemRegion[] = [];
    for (let i = 0; i < n; i++) {
      const o = i * REGION_SIZE;
      out.push({ begin: view.getBigUint64(o, true), end: view.getBigUint64(o + 8, true), perms: view.getUint32(o + 16, true) });
    }
    this.lib.uc_free(ptr);
    return out;
  }

  // ---- registers ------------------------------------------------------------------------------

  regRead(reg: X86Reg): bigint {
    const id = REG_IDS[reg];
    if (!(id > 0)) return this.specialRead(reg);
    const r = this.s.reg;
    r[0] = 0n; // segment selectors only fill the low 16 bits
    this.check(this.lib.uc_reg_read(this.handle(), id, r), 'uc_reg_read');
    return r[0];
  }

  regWrite(reg: X86Reg, value: bigint): void {
    const id = REG_IDS[reg];
    if (!(id > 0)) return this.specialWrite(reg, value);
    this.s.reg[0] = value;
    this.check(this.lib.uc_reg_write(this.handle(), id, this.s.reg), 'uc_reg_write');
  }

  private specialRead(reg: X86Reg): bigint {
    if (reg === 'efer') return this.msrRead(MSR_EFER);
    throw new EmuError('input', `unknown register '${String(reg)}'`, { op: 'uc_reg_read' });
  }

  private specialWrite(reg: X86Reg, value: bigint): void {
    if (reg === 'efer') return this.msrWrite(MSR_EFER, value);
    throw new EmuError('input', `unknown register '${String(reg)}'`, { op: 'uc_reg_write' });
  }

  /** Fill the batch id array; @returns false when a register needs its special path. */
  private fillBatchIds(regs: readonly X86Reg[], from: number, n: number): boolean {
    for (let i = 0; i < n; i++) {
      const id = REG_IDS[regs[from + i]];
      if (!(id > 0)) return false;
      this.s.ids[i] = id;
    }
    return true;
  }

  regReadBatch(regs: readonly X86Reg[]): bigint[] {
    const h = this.handle();
    const out = new Array<bigint>(regs.length);
    for (let from = 0; from < regs.length; from += BATCH_MAX) {
      const n = Math.min(BATCH_MAX, regs.length - from);
      if (!this.fillBatchIds(regs, from, n)) {
        for (let i = 0; i < n; i++) out[from + i] = this.regRead(regs[from + i]);
        continue;
      }
      this.s.vals.fill(0n, 0, n);
      this.check(this.lib.uc_reg_read_batch(h, this.s.ids, this.s.ptrs, n), 'uc_reg_read_batch');
      for (let i = 0; i < n; i++) out[from + i] = this.s.vals[i];
    }
    return out;
  }

  regWriteBatch(regs: readonly X86Reg[], values: readonly bigint[]): void {
    const h = this.handle();
    if (values.length !== regs.length) {
      throw new EmuError('input', `regWriteBatch: ${regs.length} registers but ${values.length} values`, { op: 'uc_reg_write_batch' });
    }
    for (let from = 0; from < regs.length; from += BATCH_MAX) {
      const n = Math.min(BATCH_MAX, regs.length - from);
      if (!this.fillBatchIds(regs, from, n)) {
        for (let i = 0; i < n; i++) this.regWrite(regs[from + i], values[from + i]);
        continue;
      }
      for (let i = 0; i < n; i++) this.s.vals[i] = values[from + i];
      this.check(this.lib.uc_reg_write_batch(h, this.s.ids, this.s.ptrs, n), 'uc_reg_write_batch');
    }
  }

  /** Read an MSR through UC_X86_REG_MSR / uc_x86_msr. @throws EmuError (address = msr number) */
  msrRead(msr: number): bigint {
    const v = this.s.msrView;
    v.setUint32(0, msr, true);
    v.setBigUint64(8, 0n, true);
    this.check(this.lib.uc_reg_read(this.handle(), C.UC_X86_REG_MSR, this.s.msr), 'uc_reg_read(MSR)', BigInt(msr));
    return v.getBigUint64(8, true);
  }

  msrWrite(msr: number, value: bigint): void {
    const v = this.s.msrView;
    v.setUint32(0, msr, true);
    v.setBigUint64(8, BigInt.asUintN(64, value), true);
    this.check(this.lib.uc_reg_write(this.handle(), C.UC_X86_REG_MSR, this.s.msr), 'uc_reg_write(MSR)', BigInt(msr));
  }

  private tableRead(id: number, op: string): TableReg {
    this.s.mmr.fill(0);
    this.check(this.lib.uc_reg_read(this.handle(), id, this.s.mmr), op);
    return { base: this.s.mmrView.getBigUint64(8, true), limit: this.s.mmrView.getUint32(16, true) };
  }

  private tableWrite(id: number, op: string, t: TableReg): void {
    this.s.mmr.fill(0);
    this.s.mmrView.setBigUint64(8, BigInt.asUintN(64, t.base), true);
    this.s.mmrView.setUint32(16, t.limit >>> 0, true);
    this.check(this.lib.uc_reg_write(this.handle(), id, this.s.mmr), op);
  }

  gdtrRead(): TableReg { return this.tableRead(C.UC_X86_REG_GDTR, 'uc_reg_read(GDTR)'); }
  gdtrWrite(t: TableReg): void { this.tableWrite(C.UC_X86_REG_GDTR, 'uc_reg_write(GDTR)', t); }
  idtrRead(): TableReg { return this.tableRead(C.UC_X86_REG_IDTR, 'uc_reg_read(IDTR)'); }
  idtrWrite(t: TableReg): void { this.tableWrite(C.UC_X86_REG_IDTR, 'uc_reg_write(IDTR)', t); }

  // ---- execution ------------------------------------------------------------------------------

  /**
   * Run until `until`, the timeout or `count` instructions. An error thrown by a hook is
   * re-thrown here unchanged; it takes precedence over the status it caused.
   * @throws EmuError (op 'uc_emu_start', address = RIP where emulation stopped) on a failing status
   */
  emuStart(begin: bigint, until: bigint, timeoutUs: number, count: number): void {
    const h = this.handle();
    this.syncCountMode(count > 0);
    this.translated = true;
    this.pending = undefined;
    this.running++;
    let st: number;
    try {
      st = this.lib.uc_emu_start(h, begin, until, timeoutUs, count);
    } finally {
      if (--this.running === 0) this.flushDeferred();
    }
    const p = this.takePending();
    if (p !== undefined) throw p.error;
    if (st !== 0) this.check(st, 'uc_emu_start', this.regRead('rip'));
  }

  /**
   * Unicorn 2.0.1 counts instructions with a code hook it adds on the first counted run; blocks
   * translated before that carry no hook call and would run uncounted, so drop them on the
   * switch. (Going back to count=0, Unicorn deletes the hook and flushes by itself.)
   */
  private syncCountMode(counting: boolean): void {
    // Nothing translated yet: nothing to drop (a first flush of a fresh engine costs seconds on 2.0.1).
    if (counting && !this.counting && this.translated) this.tbFlush();
    this.counting = counting;
  }

  emuStop(): void {
    this.check(this.lib.uc_emu_stop(this.handle()), 'uc_emu_stop');
  }

  /** Record the first hook failure and stop the emulation (the capture half of capture-stop-rethrow). */
  private capture(error: unknown): void {
    if (this.pending !== undefined) return;
    this.pending = { error };
    if (this.uc !== 0n) this.lib.uc_emu_stop(this.uc);
  }

  private takePending(): { error: unknown } | undefined {
    const p = this.pending;
    this.pending = undefined;
    return p;
  }

  private flushDeferred(): void {
    for (const cb of this.deferredUnregister) koffi.unregister(cb);
    this.deferredUnregister = [];
  }

  /** uc_ctl(UC_CTL_TB_REMOVE_CACHE): the emulator's sync_core for [begin, end). */
  tbRemoveCache(begin: bigint, end: bigint): void {
    const st = this.lib.uc_ctl(this.handle(), C.UC_CTL_WRITE_TB_REMOVE_CACHE, 'uint64_t', begin, 'uint64_t', end);
    this.check(st, 'uc_ctl(TB_REMOVE_CACHE)', begin, end > begin ? Number(end - begin) : undefined);
  }

  tbFlush(): void {
    this.check(this.lib.uc_ctl(this.handle(), C.UC_CTL_WRITE_TB_FLUSH), 'uc_ctl(TB_FLUSH)');
  }

  // ---- hooks ----------------------------------------------------------------------------------

  /**
   * Register `fn` with koffi, add the Unicorn hook, pin the callback under the hook handle.
   * `live` is cleared by remove(): Unicorn 2.0.1 keeps calling a hook deleted during a run
   * until that run ends (measured), so every wrapper checks it first.
   */
  private addHook(type: number, proto: keyof CallbackTypes, fn: (...a: never[]) => unknown, live: Live,
    begin: bigint, end: bigint, insn?: number, nativeFor?: (cb: bigint) => { code: Ptr; address: Ptr }): HookHandle {
    const h = this.handle();
    const cb = koffi.register(fn, this.cbTypes[proto]);
    const native = nativeFor?.(cb);
    const target = native?.code ?? cb;
    const userData = native?.address ?? null;
    const st = insn === undefined
      ? this.lib.uc_hook_add(h, this.s.out, type, target, userData, begin, end)
      : this.lib.uc_hook_add(h, this.s.out, type, target, userData, begin, end, 'int', insn);
    if (st !== 0) {
      koffi.unregister(cb);
      this.check(st, 'uc_hook_add');
    }
    const id = this.s.out[0];
    this.hooks.set(id, cb);
    return { remove: () => { live.on = false; this.removeHook(id); } };
  }

  /** uc_hook_del, then release the callback (after the run if called from inside a hook). */
  private removeHook(id: bigint): void {
    const cb = this.hooks.get(id);
    if (cb === undefined) return;
    this.hooks.delete(id);
    if (this.uc !== 0n) this.check(this.lib.uc_hook_del(this.uc, id), 'uc_hook_del');
    if (this.running > 0) this.deferredUnregister.push(cb);
    else koffi.unregister(cb);
  }

  /** True when a hook callback must not run: removed, or an earlier hook already failed this run. */
  private muted(live: Live): boolean {
    return !live.on || this.pending !== undefined;
  }

  /**
   * Code and block hooks are compiled into translated blocks: on 2.0.1 a hook added after its
   * code was translated never fires (measured), so adding one flushes every translation.
   */
  private addTranslatedHook(type: number, cb: CodeHook, begin: bigint, end: bigint): HookHandle {
    const live = { on: true };
    const handle = this.addHook(type, 'code', (_uc: Ptr, addr: number | bigint, size: number) => {
      if (this.muted(live)) return;
      // koffi hands addresses >= 2^63 (kernel text) over as negative numbers.
      try { cb(BigInt.asUintN(64, big(addr)), size); } catch (e) { this.capture(e); }
    }, live, begin, end);
    // Nothing translated yet: nothing to drop (the first flush of a fresh engine costs seconds and ~1 GiB on 2.0.1).
    if (this.translated) this.tbFlush();
    return handle;
  }

  addCodeHook(cb: CodeHook, begin = ALL_BEGIN, end = ALL_END): HookHandle {
    return this.addTranslatedHook(C.UC_HOOK_CODE, cb, begin, end);
  }

  addBlockHook(cb: CodeHook, begin = ALL_BEGIN, end = ALL_END): HookHandle {
    return this.addTranslatedHook(C.UC_HOOK_BLOCK, cb, begin, end);
  }

  addInterruptHook(cb: InterruptHook): HookHandle {
    const live = { on: true };
    return this.addHook(C.UC_HOOK_INTR, 'intr', (_uc: Ptr, intno: number) => {
      if (this.muted(live)) return;
      try { cb(intno); } catch (e) { this.capture(e); }
    }, live, ALL_BEGIN, ALL_END);
  }

  /** Covers UC_HOOK_MEM_UNMAPPED | UC_HOOK_MEM_PROT; a throw or a non-true result leaves the fault unhandled. */
  addInvalidMemHook(cb: InvalidMemHook): HookHandle {
    const live = { on: true };
    const fn = (_uc: Ptr, type: number, addr: number | bigint, size: number, value: number | bigint): boolean => {
      if (this.muted(live)) return false;
      try {
        const access = MEM_ACCESS.get(type);
        if (access === undefined) throw new EmuError('unicorn', `unexpected uc_mem_type ${type} at ${hexAddr(big(addr))}`);
        return cb(access, big(addr), size, BigInt.asUintN(size * 8, big(value))) === true;
      } catch (e) {
        this.capture(e);
        return false;
      }
    };
    return this.addHook(C.UC_HOOK_MEM_UNMAPPED | C.UC_HOOK_MEM_PROT, 'eventmem', fn, live, ALL_BEGIN, ALL_END);
  }

  addSyscallHook(cb: SyscallHook): HookHandle {
    const live = { on: true };
    return this.addHook(C.UC_HOOK_INSN, 'syscall', () => {
      if (this.muted(live)) return;
      try { cb(); } catch (e) { this.capture(e); }
    }, live, ALL_BEGIN, ALL_END, C.UC_X86_INS_SYSCALL);
  }

  /**
   * The syscall hook Unicorn calls is native code (nativeSyscall.ts) with a
   * data block as user_data; `fallback`, registered like addSyscallHook's
   * callback, is what that code tail-calls when it does not handle the call.
   */
  addNativeSyscallHook(fallback: SyscallHook): NativeSyscallHandle {
    const live = { on: true };
    let data: NativeSyscallData | undefined;
    const handle = this.addHook(C.UC_HOOK_INSN, 'syscall', () => {
      if (this.muted(live)) return;
      try { fallback(); } catch (e) { this.capture(e); }
    }, live, ALL_BEGIN, ALL_END, C.UC_X86_INS_SYSCALL, (cb) => {
      data = new NativeSyscallData(this.libName, cb);
      return data;
    });
    const d = data!;
    this.nativeData.push(d);
    return {
      remove: () => { d.disarm(); handle.remove(); },
      arm: (target, keepMask, limit) => { if (live.on) d.arm(target, keepMask, limit); },
      disarm: () => d.disarm(),
      get armed() { return d.armed; },
      takeCount: () => d.takeCount(),
    };
  }

  /** Like addBlockHook over [begin, end], but Unicorn calls native code that only counts (nativeSyscall.ts). */
  addNativeBlockCounter(fallback: CodeHook, begin: bigint, end: bigint): NativeBlockCounterHandle {
    const live = { on: true };
    let data: NativeBlockCounterData | undefined;
    const handle = this.addHook(C.UC_HOOK_BLOCK, 'code', (_uc: Ptr, addr: number | bigint, size: number) => {
      if (this.muted(live)) return;
      try { fallback(BigInt.asUintN(64, big(addr)), size); } catch (e) { this.capture(e); }
    }, live, begin, end, undefined, (cb) => {
      data = new NativeBlockCounterData(cb);
      return data;
    });
    // A block hook is compiled into translations (see addTranslatedHook).
    if (this.translated) this.tbFlush();
    const d = data!;
    this.nativeData.push(d);
    return {
      remove: () => { d.reset(Number.MAX_SAFE_INTEGER); handle.remove(); },
      reset: (limit) => d.reset(limit),
      get count() { return d.count; },
    };
  }

  addOutHook(cb: OutHook): HookHandle {
    const live = { on: true };
    return this.addHook(C.UC_HOOK_INSN, 'out', (_uc: Ptr, port: number, size: number, value: number) => {
      if (this.muted(live)) return;
      try { cb(port, size, value); } catch (e) { this.capture(e); }
    }, live, ALL_BEGIN, ALL_END, C.UC_X86_INS_OUT);
  }

  /** UC_HOOK_MEM_WRITE over [begin, end]; `value` is the stored value, zero-extended from `size` bytes. */
  addMemWriteHook(cb: MemWriteHook, begin = ALL_BEGIN, end = ALL_END): HookHandle {
    const live = { on: true };
    const fn = (_uc: Ptr, _type: number, addr: number | bigint, size: number, value: number | bigint): void => {
      if (this.muted(live)) return;
      try { cb(big(addr), size, BigInt.asUintN(size * 8, big(value))); } catch (e) { this.capture(e); }
    };
    return this.addHook(C.UC_HOOK_MEM_WRITE, 'mem', fn, live, begin, end);
  }

  // ---- context --------------------------------------------------------------------------------

  /** The engine's one uc_context, allocated on first use and freed by close(). */
  private context(): Ptr {
    if (this.ctx !== 0n) return this.ctx;
    const h = this.handle();
    this.check(this.lib.uc_context_alloc(h, this.s.out), 'uc_context_alloc');
    this.ctx = this.s.out[0];
    this.ctxSize = Number(this.lib.uc_context_size(h));
    return this.ctx;
  }

  /** @returns a copy of the whole uc_context (header + CPU state): restorable into any x86-64 engine. */
  contextSave(): Uint8Array {
    const ctx = this.context();
    this.check(this.lib.uc_context_save(this.handle(), ctx), 'uc_context_save');
    return new Uint8Array(koffi.view(ctx, this.ctxSize)).slice();
  }

  /** @throws EmuError kind 'input' when `blob` is not a context saved by an x86-64 engine of this build */
  contextRestore(blob: Uint8Array): void {
    const ctx = this.context();
    const mem = new Uint8Array(koffi.view(ctx, this.ctxSize));
    if (blob.byteLength !== this.ctxSize || !sameBytes(mem, blob, CONTEXT_HEADER)) {
      throw new EmuError('input', `contextRestore: blob of ${blob.byteLength} bytes is not a uc_context of this engine (${this.ctxSize} bytes)`,
        { op: 'uc_context_restore', size: blob.byteLength });
    }
    mem.set(blob);
    this.check(this.lib.uc_context_restore(this.handle(), ctx), 'uc_context_restore');
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Open a new x86-64 engine (UC_ARCH_X86, UC_MODE_64).
 * @throws EmuError kind 'load' when libunicorn.so.2 is missing
 */
export function createEngine(): Engine {
  return new UnicornEngine();
}
