// unicorn.ts - raw FFI layer: one table of libunicorn C signatures, bound through koffi

import koffi, { type LibraryHandle, type TypeObject } from 'koffi';
import { EmuError } from '../errors.ts';

/** Native pointer (uc_engine *, uc_context *, a uc_free-able block), as koffi 3 passes it: a BigInt. */
export type Ptr = bigint;
/** Caller-owned memory passed as `void *`: koffi hands C the backing store itself, no copy. */
export type Mem = ArrayBufferView;

/** A C prototype string tagged with the TypeScript type of the bound function. */
interface Sig<F> {
  readonly proto: string;
  readonly fn?: F;
}
function c<F>(proto: string): Sig<F> {
  return { proto };
}

/**
 * Every libunicorn function klpemu calls, alphabetical, as in the Python binding's
 * `__set_lib_prototypes`. uc_err is declared `int`; out-parameters are `void *` filled in place
 * (pass a typed array). Variadic tails take (koffi type, value) pairs.
 */
const SIGNATURES = {
  uc_close: c<(uc: Ptr) => number>('int uc_close(void *uc)'),
  uc_context_alloc: c<(uc: Ptr, ctxOut: Mem) => number>('int uc_context_alloc(void *uc, void *context_out)'),
  uc_context_free: c<(ctx: Ptr) => number>('int uc_context_free(void *context)'),
  uc_context_restore: c<(uc: Ptr, ctx: Ptr) => number>('int uc_context_restore(void *uc, void *context)'),
  uc_context_save: c<(uc: Ptr, ctx: Ptr) => number>('int uc_context_save(void *uc, void *context)'),
  uc_context_size: c<(uc: Ptr) => number>('size_t uc_context_size(void *uc)'),
  uc_ctl: c<(uc: Ptr, control: number, ...typeValuePairs: unknown[]) => number>('int uc_ctl(void *uc, int control, ...)'),
  uc_emu_start: c<(uc: Ptr, begin: bigint, until: bigint, timeoutUs: number, count: number) => number>(
    'int uc_emu_start(void *uc, uint64_t begin, uint64_t until, uint64_t timeout, size_t count)'),
  uc_emu_stop: c<(uc: Ptr) => number>('int uc_emu_stop(void *uc)'),
  uc_errno: c<(uc: Ptr) => number>('int uc_errno(void *uc)'),
  uc_free: c<(mem: Ptr) => number>('int uc_free(void *mem)'),
  uc_hook_add: c<(uc: Ptr, hhOut: Mem, type: number, cb: Ptr, userData: Ptr | null, begin: bigint, end: bigint,
    ...typeValuePairs: unknown[]) => number>(
    'int uc_hook_add(void *uc, void *hh_out, int type, void *callback, void *user_data, uint64_t begin, uint64_t end, ...)'),
  uc_hook_del: c<(uc: Ptr, hh: bigint) => number>('int uc_hook_del(void *uc, size_t hh)'),
  uc_mem_map: c<(uc: Ptr, address: bigint, size: number, perms: number) => number>(
    'int uc_mem_map(void *uc, uint64_t address, size_t size, uint32_t perms)'),
  uc_mem_map_ptr: c<(uc: Ptr, address: bigint, size: number, perms: number, host: Mem) => number>(
    'int uc_mem_map_ptr(void *uc, uint64_t address, size_t size, uint32_t perms, void *ptr)'),
  uc_mem_protect: c<(uc: Ptr, address: bigint, size: number, perms: number) => number>(
    'int uc_mem_protect(void *uc, uint64_t address, size_t size, uint32_t perms)'),
  uc_mem_read: c<(uc: Ptr, address: bigint, out: Mem, size: number) => number>(
    'int uc_mem_read(void *uc, uint64_t address, void *bytes, size_t size)'),
  uc_mem_regions: c<(uc: Ptr, regionsOut: Mem, countOut: Mem) => number>(
    'int uc_mem_regions(void *uc, void *regions_out, void *count_out)'),
  uc_mem_unmap: c<(uc: Ptr, address: bigint, size: number) => number>('int uc_mem_unmap(void *uc, uint64_t address, size_t size)'),
  uc_mem_write: c<(uc: Ptr, address: bigint, data: Mem, size: number) => number>(
    'int uc_mem_write(void *uc, uint64_t address, void *bytes, size_t size)'),
  uc_open: c<(arch: number, mode: number, ucOut: Mem) => number>('int uc_open(int arch, int mode, void *uc_out)'),
  uc_reg_read: c<(uc: Ptr, regid: number, value: Mem) => number>('int uc_reg_read(void *uc, int regid, void *value)'),
  uc_reg_read_batch: c<(uc: Ptr, regs: Mem, vals: Mem, count: number) => number>(
    'int uc_reg_read_batch(void *uc, void *regs, void *vals, int count)'),
  uc_reg_write: c<(uc: Ptr, regid: number, value: Mem) => number>('int uc_reg_write(void *uc, int regid, void *value)'),
  uc_reg_write_batch: c<(uc: Ptr, regs: Mem, vals: Mem, count: number) => number>(
    'int uc_reg_write_batch(void *uc, void *regs, void *vals, int count)'),
  uc_strerror: c<(code: number) => string>('const char *uc_strerror(int code)'),
  uc_version: c<(major: Mem | null, minor: Mem | null) => number>('unsigned int uc_version(void *major, void *minor)'),
} as const;

/** Hook callback prototypes (include/unicorn/unicorn.h, x86.h), all with a trailing user_data. */
const CALLBACK_PROTOS = {
  code: 'void klpemu_uc_cb_hookcode(void *uc, uint64_t address, uint32_t size, void *user_data)',
  intr: 'void klpemu_uc_cb_hookintr(void *uc, uint32_t intno, void *user_data)',
  eventmem: 'bool klpemu_uc_cb_eventmem(void *uc, int type, uint64_t address, int size, int64_t value, void *user_data)',
  mem: 'void klpemu_uc_cb_hookmem(void *uc, int type, uint64_t address, int size, int64_t value, void *user_data)',
  syscall: 'void klpemu_uc_cb_insn_syscall(void *uc, void *user_data)',
  out: 'void klpemu_uc_cb_insn_out(void *uc, uint32_t port, int size, uint32_t value, void *user_data)',
} as const;

/** The bound functions, typed from {@link SIGNATURES}. */
export type UnicornLib = {
  [K in keyof typeof SIGNATURES]: (typeof SIGNATURES)[K] extends Sig<infer F> ? F : never;
};

/** Callback pointer types for koffi.register, one per hook shape. */
export type CallbackTypes = { [K in keyof typeof CALLBACK_PROTOS]: TypeObject };

/** The loaded library: bound functions plus callback pointer types. */
export interface Unicorn {
  /** The soname or path it was loaded from (dlopen of it again yields the same object). */
  readonly name: string;
  readonly lib: UnicornLib;
  readonly callbacks: CallbackTypes;
}

/** Default soname; KLPEMU_LIBUNICORN overrides it (a path or another soname). */
export const UNICORN_SONAME = 'libunicorn.so.2';

const cache = new Map<string, Unicorn>();
let callbackTypes: CallbackTypes | undefined;

function loadError(name: string, detail: string, cause: unknown): EmuError {
  const msg = `klpemu: cannot load ${name}${detail} — install it with: apt-get install libunicorn2`;
  return new EmuError('load', msg, { op: 'dlopen', cause });
}

function bind(handle: LibraryHandle, name: string): UnicornLib {
  const lib: Record<string, unknown> = {};
  for (const [fn, sig] of Object.entries(SIGNATURES)) {
    try {
      lib[fn] = handle.func(sig.proto);
    } catch (e) {
      throw loadError(name, ` (no ${fn}: need Unicorn 2)`, e);
    }
  }
  return lib as UnicornLib;
}

function makeCallbackTypes(): CallbackTypes {
  if (callbackTypes) return callbackTypes;
  const out: Partial<Record<keyof typeof CALLBACK_PROTOS, TypeObject>> = {};
  for (const [k, proto] of Object.entries(CALLBACK_PROTOS)) {
    out[k as keyof typeof CALLBACK_PROTOS] = koffi.pointer(koffi.proto(proto));
  }
  callbackTypes = out as CallbackTypes;
  return callbackTypes;
}

/**
 * Load libunicorn once per name and bind every signature. Only a successful load is cached.
 * @param name soname or path (default: $KLPEMU_LIBUNICORN, else libunicorn.so.2)
 * @throws EmuError kind 'load' whose message is one line naming the Debian package
 */
export function loadUnicorn(name = process.env.KLPEMU_LIBUNICORN || UNICORN_SONAME): Unicorn {
  const hit = cache.get(name);
  if (hit) return hit;
  let handle: LibraryHandle;
  try {
    handle = koffi.load(name);
  } catch (e) {
    throw loadError(name, '', e);
  }
  const u: Unicorn = { name, lib: bind(handle, name), callbacks: makeCallbackTypes() };
  cache.set(name, u);
  return u;
}

/**
 * Probe for the library without throwing, so a CLI can print `message` and exit 1.
 * @returns `{ok:true}` or `{ok:false, message}` with the one-line install hint
 */
export function unicornAvailable(name?: string): { ok: true } | { ok: false; message: string } {
  try {
    loadUnicorn(name);
    return { ok: true };
  } catch (e) {
    if (e instanceof EmuError && e.kind === 'load') return { ok: false, message: e.message };
    throw e;
  }
}
