// nativeSyscall.ts - the `syscall` instruction done by a native hook, so free-running guests skip a JS call per syscall
//
// Unicorn calls a UC_HOOK_INSN syscall hook for every guest `syscall`. Through
// koffi that is a JS callback (~1.5 µs here), most of a getpid. This hook is
// machine code assembled with keystone into an executable page: while armed it
// does what the JS hook does (RCX = next RIP, R11 = RFLAGS, RFLAGS &= keep,
// RIP = target) with two uc_reg_*_batch calls and counts; every `limit`
// syscalls, or when disarmed, it tail-calls the JS fallback instead, which the
// owner uses to end slices, take interrupts and fold the count into its clock.
//
// The data block is shared with the code by offset (DATA below): the code and
// the layout change together.

import koffi from 'koffi';
import { Keystone, Const } from 'keystone-wasm';
import { keystoneReady } from './keystone.ts';
import { EmuError } from './errors.ts';
import type { Ptr } from './raw/unicorn.ts';
import * as C from './raw/x86Const.ts';

/** Byte offsets in a hook's data block (u64 slots unless noted). */
export const DATA = {
  fast: 0, count: 8, limit: 16, target: 24, keepMask: 32,
  fallback: 40, readBatch: 48, writeBatch: 56,
  vRip: 64, vRflags: 72, wRcx: 80, wR11: 88, wRflags: 96, wRip: 104,
  readPtrs: 112, writePtrs: 128, readIds: 160 /* 2 × i32 */, writeIds: 168 /* 4 × i32 */,
  size: 192,
} as const;

/**
 * void hook(uc_engine *uc /* rdi *\/, void *data /* rsi *\/). The count is
 * bumped only after both batches succeeded, so a call that falls back is never
 * counted twice (the fallback counts it).
 */
const HOOK_ASM = `
  push rbx
  push r12
  sub rsp, 8
  mov rbx, rsi
  mov r12, rdi
  cmp qword ptr [rbx + ${DATA.fast}], 0
  je slow
  mov rax, qword ptr [rbx + ${DATA.count}]
  inc rax
  cmp rax, qword ptr [rbx + ${DATA.limit}]
  jae slow
  mov rdi, r12
  lea rsi, [rbx + ${DATA.readIds}]
  lea rdx, [rbx + ${DATA.readPtrs}]
  mov ecx, 2
  call qword ptr [rbx + ${DATA.readBatch}]
  test eax, eax
  jnz slow
  mov rax, qword ptr [rbx + ${DATA.vRip}]
  add rax, 2
  mov qword ptr [rbx + ${DATA.wRcx}], rax
  mov rax, qword ptr [rbx + ${DATA.vRflags}]
  mov qword ptr [rbx + ${DATA.wR11}], rax
  and rax, qword ptr [rbx + ${DATA.keepMask}]
  mov qword ptr [rbx + ${DATA.wRflags}], rax
  mov rax, qword ptr [rbx + ${DATA.target}]
  mov qword ptr [rbx + ${DATA.wRip}], rax
  mov rdi, r12
  lea rsi, [rbx + ${DATA.writeIds}]
  lea rdx, [rbx + ${DATA.writePtrs}]
  mov ecx, 4
  call qword ptr [rbx + ${DATA.writeBatch}]
  test eax, eax
  jnz slow
  inc qword ptr [rbx + ${DATA.count}]
  add rsp, 8
  pop r12
  pop rbx
  ret
slow:
  mov rdi, r12
  mov rsi, rbx
  add rsp, 8
  pop r12
  pop rbx
  jmp qword ptr [rsi + ${DATA.fallback}]
`;

/**
 * void hook(uc_engine *uc, uint64_t address, uint32_t size, void *data /* rcx *\/):
 * a UC_HOOK_BLOCK callback that counts blocks in data[count] and tail-calls
 * the JS fallback, arguments untouched, when the count reaches data[limit].
 * Same data layout as the syscall hook (only fast/count/limit/fallback used).
 */
const BLOCK_COUNTER_ASM = `
  mov rax, qword ptr [rcx + ${DATA.count}]
  inc rax
  mov qword ptr [rcx + ${DATA.count}], rax
  cmp rax, qword ptr [rcx + ${DATA.limit}]
  jae over
  ret
over:
  jmp qword ptr [rcx + ${DATA.fallback}]
`;
/** Offset of the block counter in the code page (the syscall hook is at 0). */
const BLOCK_COUNTER_AT = 0x800;

const PAGE = 4096;
const PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
const MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20;
const RTLD_NOW = 2;

interface Libc {
  mmap: (addr: null, len: number, prot: number, flags: number, fd: number, off: number) => Ptr;
  mprotect: (addr: Ptr, len: number, prot: number) => number;
  dlopen: (file: string, flags: number) => Ptr | null;
  dlsym: (handle: Ptr, name: string) => Ptr | null;
  dlerror: () => string | null;
}

let libc: Libc | undefined;
function loadLibc(): Libc {
  if (libc) return libc;
  const l = koffi.load('libc.so.6');
  libc = {
    mmap: l.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, intptr_t off)'),
    mprotect: l.func('int mprotect(void *addr, size_t len, int prot)'),
    dlopen: l.func('void *dlopen(const char *file, int flags)'),
    dlsym: l.func('void *dlsym(void *handle, const char *name)'),
    dlerror: l.func('const char *dlerror()'),
  };
  return libc;
}

await keystoneReady();

/** The hook's machine code (keystone, Intel syntax). The engine is never closed: ks_close in keystone-wasm 1.0.4 breaks later instances (measured: the kernel build then fails with "null function or function signature mismatch"). */
let ks: Keystone | undefined;
export function hookCode(): Uint8Array {
  ks ??= new Keystone(Const.KS_ARCH_X86, Const.KS_MODE_64);
  return Uint8Array.from(ks.asm(HOOK_ASM, { address: 0 }));
}

export function blockCounterCode(): Uint8Array {
  ks ??= new Keystone(Const.KS_ARCH_X86, Const.KS_MODE_64);
  return Uint8Array.from(ks.asm(BLOCK_COUNTER_ASM, { address: BLOCK_COUNTER_AT }));
}

function ptr(v: unknown): Ptr {
  return typeof v === 'bigint' ? v : BigInt(v as number);
}

/** Address of `sym` in the libunicorn that loadUnicorn(name) loaded (dlopen of a loaded object returns it). */
function unicornSymbol(lib: Libc, name: string, sym: string): Ptr {
  const h = lib.dlopen(name, RTLD_NOW);
  const p = h === null ? null : lib.dlsym(h, sym);
  if (p === null) throw new EmuError('load', `native syscall hook: no ${sym} in ${name}: ${lib.dlerror() ?? ''}`, { op: 'dlsym' });
  return ptr(p);
}

let codePage: Ptr | undefined;
/** The executable page holding the hook (one per process, never unmapped: hooks of closed engines may have pointed at it). */
function codeAddress(): Ptr {
  if (codePage !== undefined) return codePage;
  const lib = loadLibc();
  const code = hookCode();
  const counter = blockCounterCode();
  if (code.length > BLOCK_COUNTER_AT || BLOCK_COUNTER_AT + counter.length > PAGE) throw new EmuError('asm', 'native hooks do not fit their code page', { op: 'keystone' });
  const p = ptr(lib.mmap(null, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (p === 0n || p === 0xffffffffffffffffn) throw new EmuError('load', 'native syscall hook: mmap of the code page failed', { op: 'mmap', size: PAGE });
  const page = new Uint8Array(koffi.view(p, PAGE));
  page.set(code);
  page.set(counter, BLOCK_COUNTER_AT);
  if (lib.mprotect(p, PAGE, PROT_READ | PROT_EXEC) !== 0) {
    throw new EmuError('load', 'native syscall hook: mprotect(PROT_READ|PROT_EXEC) failed', { op: 'mprotect', address: p, size: PAGE });
  }
  codePage = p;
  return p;
}

/**
 * One hook's data block, kept referenced by its owner for the life of the
 * engine (Unicorn 2.0.1 keeps calling a deleted hook until the run ends).
 */
export class NativeSyscallData {
  readonly words = new BigUint64Array(DATA.size / 8);
  readonly address: Ptr;
  readonly code: Ptr;

  constructor(unicornName: string, fallback: Ptr) {
    this.code = codeAddress();
    const lib = loadLibc();
    this.address = ptr(koffi.address(this.words));
    const w = this.words;
    w[DATA.fallback / 8] = fallback;
    w[DATA.readBatch / 8] = unicornSymbol(lib, unicornName, 'uc_reg_read_batch');
    w[DATA.writeBatch / 8] = unicornSymbol(lib, unicornName, 'uc_reg_write_batch');
    const slot = (off: number) => this.address + BigInt(off);
    [DATA.vRip, DATA.vRflags].forEach((off, i) => { w[DATA.readPtrs / 8 + i] = slot(off); });
    [DATA.wRcx, DATA.wR11, DATA.wRflags, DATA.wRip].forEach((off, i) => { w[DATA.writePtrs / 8 + i] = slot(off); });
    const ids = new Int32Array(w.buffer);
    ids.set([C.UC_X86_REG_RIP, C.UC_X86_REG_RFLAGS], DATA.readIds / 4);
    ids.set([C.UC_X86_REG_RCX, C.UC_X86_REG_R11, C.UC_X86_REG_RFLAGS, C.UC_X86_REG_RIP], DATA.writeIds / 4);
  }

  arm(target: bigint, keepMask: bigint, limit: number): void {
    const w = this.words;
    w[DATA.target / 8] = BigInt.asUintN(64, target);
    w[DATA.keepMask / 8] = BigInt.asUintN(64, keepMask);
    w[DATA.limit / 8] = BigInt(Math.max(0, Math.floor(limit)));
    w[DATA.fast / 8] = 1n;
  }

  disarm(): void {
    this.words[DATA.fast / 8] = 0n;
  }

  get armed(): boolean {
    return this.words[DATA.fast / 8] !== 0n;
  }

  takeCount(): number {
    const n = Number(this.words[DATA.count / 8]);
    this.words[DATA.count / 8] = 0n;
    return n;
  }
}

/** A block counter's data block (DATA.count, DATA.limit, DATA.fallback). */
export class NativeBlockCounterData {
  readonly words = new BigUint64Array(DATA.size / 8);
  readonly address: Ptr;
  readonly code: Ptr;

  constructor(fallback: Ptr) {
    this.code = codeAddress() + BigInt(BLOCK_COUNTER_AT);
    this.address = ptr(koffi.address(this.words));
    this.words[DATA.fallback / 8] = fallback;
    this.words[DATA.limit / 8] = 0xffffffffffffffffn;
  }

  /** Call the fallback at the `limit`-th block from now (the count restarts at 0). */
  reset(limit: number): void {
    this.words[DATA.count / 8] = 0n;
    this.words[DATA.limit / 8] = BigInt(Math.max(1, Math.floor(limit)));
  }

  get count(): number {
    return Number(this.words[DATA.count / 8]);
  }
}
