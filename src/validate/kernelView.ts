// kernelView.ts - the kernel the checks look at: a vmlinux image (static) or a booted system (live)

import { Kallsyms, type KSym } from '../kernel/kallsyms.ts';
import type { KernelImage } from '../kernel/image.ts';
import type { System } from '../system.ts';
import { MemoryMap } from '../abi/layout.ts';
import { disassemble, formatInsn, type Insn } from '../asm/disasm.ts';

/** Names of the built-in ftrace trampolines (SYM_CODE in ftrace_64.S). */
export const BUILTIN_TRAMPOLINES = new Set(['ftrace_caller', 'ftrace_regs_caller']);
/** kallsyms object of the per-ops trampolines ftrace allocates (trampoline.ts). */
export const TRAMPOLINE_OBJ = '__builtin__ftrace';
/** Functions ftrace and livepatch run on the way to a handler: tracing them would recurse. */
export const FTRACE_MACHINERY = /^(ftrace_|function_trace_call$|klp_ftrace_handler$|poke_int3_handler$|__fentry__$)/;

/** What every check reads: bytes, symbols, ftrace locations and text ranges of one kernel. */
export interface KernelView {
  /** vmlinux path, or "live system" with what is loaded. */
  name: string;
  kallsyms: Kallsyms;
  /** Bytes at [addr, addr + n), or undefined when not all mapped. */
  read(addr: bigint, n: number): Uint8Array | undefined;
  /** ftrace_location(ip) !== 0: a recorded __mcount_loc site. */
  isFtraceLocation(ip: bigint): boolean;
  /** Owner of the kernel/module text containing addr ('vmlinux', a module, '__builtin__ftrace'). */
  textOwner(addr: bigint): string | undefined;
  /** Names modules may link against (EXPORT_SYMBOL). */
  exported: ReadonlySet<string>;
}

/** A view of the vmlinux image as it is before boot (ftrace_init leaves these bytes). */
export function imageView(image: KernelImage): KernelView {
  const kallsyms = new Kallsyms(image.symbols);
  const mcount = new Set(image.mcountLoc);
  const text = image.sections.filter((s) => s.exec && s.addr >= MemoryMap.KERNEL_TEXT);
  return {
    name: image.path,
    kallsyms,
    read(addr, n) {
      const s = image.sections.find((x) => addr >= x.addr && addr + BigInt(n) <= x.addr + BigInt(x.data.length));
      return s ? s.data.subarray(Number(addr - s.addr), Number(addr - s.addr) + n) : undefined;
    },
    isFtraceLocation: (ip) => mcount.has(ip),
    textOwner: (addr) => (text.some((s) => addr >= s.addr && addr < s.addr + BigInt(s.size)) ? 'vmlinux' : undefined),
    exported: image.exported,
  };
}

/** A view of a booted system: guest memory, kallsyms with modules and trampolines, ftrace records. */
export function systemView(sys: System): KernelView {
  const k = sys.kernel;
  const mem = k.machine.mem;
  return {
    name: `live system (${k.image.path})`,
    kallsyms: k.kallsyms,
    read: (addr, n) => (mem.isMapped(addr, n) ? Uint8Array.from(mem.read(addr, n)) : undefined),
    isFtraceLocation: (ip) => sys.ftrace.ftraceLocation(ip) === ip,
    textOwner: (addr) => k.textRanges.find((r) => addr >= r.lo && addr < r.hi)?.owner,
    exported: k.image.exported,
  };
}

/** `0xffffffff81001230` */
export const hexAddr = (a: bigint): string => `0x${BigInt.asUintN(64, a).toString(16)}`;

/** `name+0x5/0x40 [mod]` or the bare address. */
export function symbolize(view: KernelView, addr: bigint): string {
  return view.kallsyms.symbolize(addr);
}

/** `0xffffffff81001230 cmdline_proc_show+0x0/0x43`, or the bare address when no symbol covers it. */
export function where(view: KernelView, addr: bigint): string {
  const s = symbolize(view, addr);
  return s.startsWith('0x') ? hexAddr(addr) : `${hexAddr(addr)} ${s}`;
}

/** `1 byte`, `4 bytes` */
export const nBytes = (n: number | bigint): string => `${n} byte${n === 1 || n === 1n ? '' : 's'}`;

/** An ftrace trampoline entry (built-in or per-ops), or undefined. */
export function trampolineAt(view: KernelView, addr: bigint): KSym | undefined {
  const s = view.kallsyms.find(addr);
  if (!s || s.addr !== addr) return undefined;
  return s.obj === TRAMPOLINE_OBJ || BUILTIN_TRAMPOLINES.has(s.name) ? s : undefined;
}

/** A C function (not SYM_CODE, not data) starting exactly at addr. */
export function functionAt(view: KernelView, addr: bigint): KSym | undefined {
  return view.kallsyms.all().find((s) => s.addr === addr && s.type === 'func' && !s.code && s.size > 0);
}

/** The instructions of a symbol's body as they are now (decoding stops at undecodable bytes). */
export function decodeSymbol(view: KernelView, sym: KSym): Insn[] {
  const bytes = view.read(sym.addr, sym.size);
  return bytes ? disassemble(bytes, sym.addr) : [];
}

/** Where addr falls in its function's instruction stream. */
export interface InsnPlace {
  sym?: KSym;
  /** The instruction covering addr (starting at or before it). */
  insn?: Insn;
  /** addr is the first byte of `insn`. */
  boundary: boolean;
}

/** Locate addr in the decoded body of the symbol containing it. */
export function placeOf(view: KernelView, addr: bigint): InsnPlace {
  const sym = view.kallsyms.find(addr);
  if (!sym) return { boundary: false };
  const insn = decodeSymbol(view, sym).find((i) => addr >= i.address && addr < i.address + BigInt(i.size));
  return { sym, insn, boundary: insn !== undefined && insn.address === addr };
}

/** `cmdline_proc_show+0x5/0x50: push rbp` for evidence lines. */
export function describePlace(view: KernelView, p: InsnPlace, addr: bigint): string {
  const where = symbolize(view, addr);
  if (!p.insn) return `${where}: (no decodable instruction here)`;
  const off = addr - p.insn.address;
  return off === 0n ? `${where}: ${formatInsn(p.insn)}` : `${where}: inside \`${formatInsn(p.insn)}\` (${nBytes(p.insn.size)} at ${symbolize(view, p.insn.address)}, ${nBytes(off)} in)`;
}

/** The function symbol named `name` (obj vmlinux or any), for site lookups: `name`, `name+0xoff`, `0xaddr`. */
export function resolveAddress(view: KernelView, spec: string): bigint | string {
  const t = spec.trim();
  if (/^0x[0-9a-f]+$/i.test(t)) return BigInt(t);
  const m = /^([A-Za-z_.$][\w.$]*)(?:,(\d+))?(?:\+(0x[0-9a-f]+|\d+))?$/i.exec(t);
  if (!m) return `malformed address or symbol '${spec}'`;
  const [, name, pos, off] = m;
  const all = view.kallsyms.lookupAll(name!);
  if (all.length === 0) return `unknown symbol '${name}'`;
  let sym: KSym | undefined;
  if (pos !== undefined) sym = all[Number(pos) - 1];
  else sym = all.length === 1 ? all[0] : all.find((s) => s.global);
  if (!sym) return pos !== undefined ? `symbol '${name}' has no position ${pos} (${all.length} found)` : `ambiguous symbol '${name}' (${all.length} found; use ${name},N)`;
  return sym.addr + (off ? BigInt(off) : 0n);
}
