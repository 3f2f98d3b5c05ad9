// types.ts - the typed engine interface every backend implements (Unicorn via koffi today)

/** Memory protection bits, Unicorn's UC_PROT_* values. */
export const Prot = { NONE: 0, READ: 1, WRITE: 2, EXEC: 4, ALL: 7 } as const;

/** A mapped region as uc_mem_regions reports it (end inclusive, as Unicorn). */
export interface MemRegion {
  begin: bigint;
  end: bigint;
  perms: number;
}

/** Kinds of invalid memory access reported to an invalid-memory hook (UC_MEM_*). */
export type MemAccess =
  | 'read-unmapped' | 'write-unmapped' | 'fetch-unmapped'
  | 'read-prot' | 'write-prot' | 'fetch-prot';

/** A hook registration; remove() unregisters it and releases its callback. Idempotent. */
export interface HookHandle {
  remove(): void;
}

/** Called before each instruction (code hook) or each translated block (block hook). */
export type CodeHook = (address: bigint, size: number) => void;
/** `intno` as Unicorn reports it (3 for int3, 0 for #DE, ...). */
export type InterruptHook = (intno: number) => void;
/** Return true when the access was handled (memory mapped, or state redirected). */
export type InvalidMemHook = (access: MemAccess, address: bigint, size: number, value: bigint) => boolean;
/** Called when the guest executes `syscall`; Unicorn does nothing else for it. */
export type SyscallHook = () => void;
/**
 * A `syscall` hook that, while armed, executes the instruction natively (no JS):
 * RCX = RIP + 2, R11 = RFLAGS, RFLAGS &= keepMask, RIP = target (written as
 * is: the caller compensates Unicorn's RIP bias). The fallback runs instead
 * when disarmed and for the `limit`-th call since the last takeCount().
 */
export interface NativeSyscallHandle extends HookHandle {
  arm(target: bigint, keepMask: bigint, limit: number): void;
  disarm(): void;
  readonly armed: boolean;
  /** Syscalls executed natively since the last call; resets the count. */
  takeCount(): number;
}
/** A block hook run natively: counts blocks in its range, calls its fallback at the limit-th. */
export interface NativeBlockCounterHandle extends HookHandle {
  /** Count from 0 again; the fallback runs when `limit` blocks have run. */
  reset(limit: number): void;
  readonly count: number;
}
/** Called on `out imm8/dx, al|ax|eax`. */
export type OutHook = (port: number, size: number, value: number) => void;
/** Called after a guest write (UC_HOOK_MEM_WRITE) in [begin, end]. */
export type MemWriteHook = (address: bigint, size: number, value: bigint) => void;

/** x86 registers the machine uses, by name (ids live in emu/raw/x86Const.ts). */
export type X86Reg =
  | 'rax' | 'rbx' | 'rcx' | 'rdx' | 'rsi' | 'rdi' | 'rbp' | 'rsp'
  | 'r8' | 'r9' | 'r10' | 'r11' | 'r12' | 'r13' | 'r14' | 'r15'
  | 'rip' | 'rflags' | 'cs' | 'ss' | 'ds' | 'es' | 'fs' | 'gs'
  | 'fs_base' | 'gs_base' | 'cr0' | 'cr2' | 'cr3' | 'cr4' | 'efer';

/** Descriptor-table register (GDTR/IDTR) contents. */
export interface TableReg {
  base: bigint;
  limit: number;
}

/**
 * One CPU engine. Every failing status throws EmuError with the uc_strerror text,
 * the operation and its address/size. A throw inside a hook callback stops
 * emulation and is re-thrown, unchanged, by emuStart (capture-stop-rethrow).
 */
export interface Engine {
  close(): void;
  memMap(address: bigint, size: number, perms: number): void;
  /** Map host memory (shared between engines): `buf` must outlive the mapping. */
  memMapPtr(address: bigint, buf: Uint8Array, perms: number): void;
  memUnmap(address: bigint, size: number): void;
  memProtect(address: bigint, size: number, perms: number): void;
  memRead(address: bigint, size: number): Uint8Array;
  memWrite(address: bigint, data: Uint8Array): void;
  memRegions(): MemRegion[];
  regRead(reg: X86Reg): bigint;
  regWrite(reg: X86Reg, value: bigint): void;
  /** Read several registers in one FFI call (uc_reg_read_batch). */
  regReadBatch(regs: readonly X86Reg[]): bigint[];
  regWriteBatch(regs: readonly X86Reg[], values: readonly bigint[]): void;
  msrRead(msr: number): bigint;
  msrWrite(msr: number, value: bigint): void;
  gdtrRead(): TableReg;
  gdtrWrite(t: TableReg): void;
  idtrRead(): TableReg;
  idtrWrite(t: TableReg): void;
  /**
   * Run from `begin` until `until`, `timeoutUs` microseconds or `count` instructions
   * (0 = unlimited), whichever first. Re-throws an exception captured in a hook.
   */
  emuStart(begin: bigint, until: bigint, timeoutUs: number, count: number): void;
  emuStop(): void;
  addCodeHook(cb: CodeHook, begin?: bigint, end?: bigint): HookHandle;
  addBlockHook(cb: CodeHook, begin?: bigint, end?: bigint): HookHandle;
  addInterruptHook(cb: InterruptHook): HookHandle;
  addInvalidMemHook(cb: InvalidMemHook): HookHandle;
  addSyscallHook(cb: SyscallHook): HookHandle;
  /** addSyscallHook whose common case runs natively while armed (emu/nativeSyscall.ts). */
  addNativeSyscallHook(fallback: SyscallHook): NativeSyscallHandle;
  /** A block hook over [begin, end] whose counting runs natively; `fallback` gets the block at the limit. */
  addNativeBlockCounter(fallback: CodeHook, begin: bigint, end: bigint): NativeBlockCounterHandle;
  addOutHook(cb: OutHook): HookHandle;
  addMemWriteHook(cb: MemWriteHook, begin?: bigint, end?: bigint): HookHandle;
  /** uc_ctl UC_CTL_TB_REMOVE_CACHE over [begin, end): drop translations of that range. */
  tbRemoveCache(begin: bigint, end: bigint): void;
  /** uc_ctl UC_CTL_TB_FLUSH: drop every translation. */
  tbFlush(): void;
  /** uc_context_save into an opaque blob (all registers, no memory). */
  contextSave(): Uint8Array;
  contextRestore(blob: Uint8Array): void;
}
