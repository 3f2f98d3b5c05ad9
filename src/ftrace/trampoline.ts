// trampoline.ts - per-ops ftrace trampolines (arch/x86/kernel/ftrace.c create_trampoline)
//
// A trampoline is a copy of ftrace_regs_caller (or ftrace_caller) and the two
// slots that follow its code (kernel-image/ftrace_64.S): the copy's
// RIP-relative loads read the copy's own slots, which are set to the ops and
// its handler, so a site with exactly one ops calls its trampoline and skips
// the list walk. Copies live in the module area and are kernel text for the
// unwinder (__kernel_text_address: is_ftrace_trampoline).

import type { Kernel } from '../kernel/kernel.ts';

/** One allocated trampoline. */
export interface Trampoline {
  addr: bigint;
  size: number;
  /** Where its ops and func slots are. */
  opSlot: bigint;
  funcSlot: bigint;
}

/** The layout of a built-in trampoline: code start and its two slots. */
interface Template {
  start: bigint;
  opSlot: bigint;
  funcSlot: bigint;
}

function template(k: Kernel, regs: boolean): Template {
  const base = regs ? 'ftrace_regs_caller' : 'ftrace_caller';
  return { start: k.sym(base), opSlot: k.sym(`${base}_op`), funcSlot: k.sym(`${base}_func`) };
}

/** The op/func slots of the built-in ftrace_caller or ftrace_regs_caller. */
export function builtinSlots(k: Kernel, regs: boolean): { opSlot: bigint; funcSlot: bigint } {
  const t = template(k, regs);
  return { opSlot: t.opSlot, funcSlot: t.funcSlot };
}

/** create_trampoline(): copy the template and point its slots at `ops` and `func`. */
export function createTrampoline(k: Kernel, regs: boolean, ops: bigint, func: bigint): Trampoline {
  const t = template(k, regs);
  const size = Number(t.funcSlot + 8n - t.start);
  const addr = k.moduleArea.alloc(size, 16n);
  const mem = k.machine.mem;
  mem.write(addr, mem.read(t.start, size));
  const opSlot = addr + (t.opSlot - t.start);
  const funcSlot = addr + (t.funcSlot - t.start);
  mem.writeU64(opSlot, ops);
  mem.writeU64(funcSlot, func);
  k.textRanges.push({ lo: addr, hi: addr + BigInt(size), owner: '__builtin__ftrace' });
  k.kallsyms.add({ name: 'ftrace_trampoline', addr, size, type: 'func', global: true, obj: '__builtin__ftrace', code: true });
  return { addr, size, opSlot, funcSlot };
}

/** Free a trampoline once no site calls it any more. */
export function freeTrampoline(k: Kernel, t: Trampoline): void {
  const i = k.textRanges.findIndex((r) => r.lo === t.addr);
  if (i >= 0) k.textRanges.splice(i, 1);
  k.kallsyms.removeWhere((s) => s.obj === '__builtin__ftrace' && s.addr === t.addr);
  k.machine.mem.write(t.addr, new Uint8Array(t.size).fill(0xcc));
  k.machine.syncCore(t.addr, t.addr + BigInt(t.size));
  k.moduleArea.release(t.addr);
}
