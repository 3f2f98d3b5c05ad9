// frames.ts - where a stopped function's return address is (prologue state) and backtraces of vCPUs and tasks

import type { Kernel } from '../kernel/kernel.ts';
import type { TaskView } from '../kernel/tasks.ts';
import { disassemble, formatInsn } from '../asm/disasm.ts';
import { showStack, stackTraceSaveTskReliable, switchedOutTask, UNRELIABLE_REASONS } from '../unwind/index.ts';
import type { ReliableStackTrace, ShownStack, UnwindTask } from '../unwind/index.ts';
import { MemoryMap, THREAD_SIZE } from '../abi/layout.ts';
import { hex } from './format.ts';

/**
 * Where RIP is relative to the frame set-up of its function:
 * `entry` before `push rbp`, `pushed` between `push rbp` and `mov rbp, rsp`,
 * `framed` in the body, `returning` on a `ret` (after the epilogue).
 */
export type FrameState = 'entry' | 'pushed' | 'framed' | 'returning';

/** Decide the frame state of `rip` by decoding its function from the start. */
export function frameState(k: Kernel, rip: bigint): FrameState {
  const mem = k.machine.mem;
  const here = mem.isMapped(rip, 16) ? disassemble(mem.read(rip, 16), rip, 1)[0] : undefined;
  if (here?.mnemonic === 'ret') return 'returning';
  const s = k.kallsyms.find(rip);
  if (!s || !mem.isMapped(s.addr, s.size)) return 'framed';
  let push: bigint | undefined;
  const len = Math.min(s.size, Number(rip - s.addr) + 16);
  for (const i of disassemble(mem.read(s.addr, len), s.addr)) {
    if (i.address > rip) break;
    const text = formatInsn(i);
    if (text === 'push rbp') push = i.address;
    if (text === 'mov rbp, rsp' && push !== undefined) {
      if (rip <= i.address) return rip <= push ? 'entry' : 'pushed';
      return 'framed';
    }
  }
  return push === undefined ? 'entry' : rip <= push ? 'entry' : 'pushed';
}

/** The stack slot holding the return address of the function RIP is in. */
export function returnSlot(state: FrameState, rsp: bigint, rbp: bigint): bigint {
  if (state === 'framed') return rbp + 8n;
  return state === 'pushed' ? rsp + 8n : rsp;
}

/** A backtrace: the frames, whether livepatch could trust them, and notes. */
export interface Backtrace {
  frames: { ip: bigint; mark: '' | '?'; note?: string }[];
  reliable: ReliableStackTrace | undefined;
  stop: ShownStack['stop'] | undefined;
  notes: string[];
}

const preds = (k: Kernel) => ({ isKernelText: (ip: bigint) => k.isKernelText(ip), isIrqEntryReturn: (ip: bigint) => k.isIrqEntryReturn(ip) });

function walk(k: Kernel, task: UnwindTask, lead: bigint[], notes: string[]): Backtrace {
  const shown = showStack(k.machine.mem, task, preds(k));
  const reliable = stackTraceSaveTskReliable(k.machine.mem, task, preds(k));
  const frames: Backtrace['frames'] = lead.map((ip) => ({ ip, mark: '' as const }));
  for (const f of shown.frames) frames.push({ ip: f.ip, mark: f.mark, note: f.note === 'regs-on-stack' ? 'interrupt entry: pt_regs on the stack' : undefined });
  return { frames, reliable, stop: shown.stop, notes };
}

/** Backtrace of what vCPU `cpu` runs now, from its registers (the task is frozen by the debugger). */
export function vcpuBacktrace(k: Kernel, cpu: number): Backtrace {
  const e = k.machine.vcpus[cpu]!.engine;
  const [rip, rsp, rbp] = e.regReadBatch(['rip', 'rsp', 'rbp']) as [bigint, bigint, bigint];
  const notes: string[] = [];
  if (rip < MemoryMap.KERNEL_TEXT) {
    notes.push(`cpu ${cpu} is in user mode at ${hex(rip)}: no kernel frames`);
    return { frames: [{ ip: rip, mark: '' }], reliable: undefined, stop: undefined, notes };
  }
  let stack = k.currentOn(cpu)?.stack ?? 0n;
  if (!(rsp >= stack && rsp < stack + BigInt(THREAD_SIZE))) {
    stack = rsp & ~BigInt(THREAD_SIZE - 1);
    notes.push(`rsp ${hex(rsp)} is not on the current task's stack; walking the stack block at ${hex(stack)}`);
  }
  const state = frameState(k, rip);
  if (state === 'framed') return walk(k, { stack, start: { kind: 'regs', ip: rip, fp: rbp } }, [], notes);
  const slot = returnSlot(state, rsp, rbp);
  if (!k.machine.mem.isMapped(slot, 8)) return { frames: [{ ip: rip, mark: '' }], reliable: undefined, stop: undefined, notes: [...notes, `return slot ${hex(slot)} not mapped`] };
  const ret = k.machine.mem.readU64(slot);
  notes.push(`frame #0 has no frame record yet (${state}): its return address is read at ${hex(slot)}`);
  return walk(k, { stack, start: { kind: 'regs', ip: ret, fp: rbp } }, [rip], notes);
}

/** Backtrace of a task that is not running, from its switched-out stack (what livepatch checks). */
export function taskBacktrace(k: Kernel, t: TaskView): Backtrace {
  const shownTask = switchedOutTask({ stack: t.stack, sp: t.sp });
  const bt = walk(k, shownTask, [], []);
  return { ...bt, reliable: k.stackTraceReliable(t) };
}

/** Lines for a backtrace, gdb's `#N  0x… in sym` plus the reliability verdict. */
export function formatBacktrace(k: Kernel, bt: Backtrace): string[] {
  const lines = bt.frames.map((f, i) => {
    const sym = k.kallsyms.find(f.ip) ? ` in ${k.kallsyms.symbolize(f.ip)}` : '';
    return `#${String(i).padEnd(2)} ${f.mark ? '? ' : ''}${hex(f.ip)}${sym}${f.note ? `  <${f.note}>` : ''}`;
  });
  for (const n of bt.notes) lines.push(`note: ${n}`);
  if (bt.stop && !bt.stop.ok) lines.push(`walk stopped: ${UNRELIABLE_REASONS[bt.stop.reason]}: ${bt.stop.detail}`);
  if (bt.reliable?.ok) lines.push('stack: reliable (ends at the end-of-stack frame)');
  else if (bt.reliable) lines.push(`stack: UNRELIABLE - ${UNRELIABLE_REASONS[bt.reliable.reason]}: ${bt.reliable.detail}`);
  return lines;
}
