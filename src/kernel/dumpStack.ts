// dumpStack.ts - arch/x86/kernel/dumpstack.c: the "Call Trace:" an oops prints, walked by the host unwinder from pt_regs

import { PT_REGS, THREAD_SIZE } from '../abi/layout.ts';
import { showStack } from '../unwind/index.ts';
import type { Kernel } from './kernel.ts';

/** Frames printed at most (the kernel stops at the end of the stack; a broken chain is cut here). */
const MAX_FRAMES = 64;

/**
 * show_trace_log_lvl() for the exception frame at `regs` on `cpu`: the
 * callers of regs->ip (regs->ip itself is the RIP line), one `symbol+off/size`
 * line each, `? ` before an address that is not kernel text, between
 * <TASK> and </TASK>. Empty when the frame cannot be read.
 */
export function showTraceLogLvl(k: Kernel, cpu: number, regs: bigint): string[] {
  const mem = k.machine.mem;
  if (!mem.isMapped(regs, PT_REGS.SIZE)) return [];
  const ip = mem.readU64(regs + BigInt(PT_REGS.ip));
  const bp = mem.readU64(regs + BigInt(PT_REGS.rbp));
  const sp = mem.readU64(regs + BigInt(PT_REGS.sp));
  const cur = k.currentOn(cpu);
  const inCur = cur && sp >= cur.stack && sp < cur.stack + BigInt(THREAD_SIZE);
  const stack = inCur ? cur.stack : sp & ~BigInt(THREAD_SIZE - 1);
  const shown = showStack(mem, { stack, start: { kind: 'regs', ip, fp: bp } }, {
    isKernelText: (a) => k.isKernelText(a),
    isIrqEntryReturn: (a) => k.isIrqEntryReturn(a),
  });
  const lines = ['Call Trace:', ' <TASK>'];
  for (const f of shown.frames.slice(1, MAX_FRAMES + 1)) lines.push(` ${f.mark ? '? ' : ''}${k.kallsyms.symbolize(f.ip)}`);
  lines.push(' </TASK>');
  return lines;
}
