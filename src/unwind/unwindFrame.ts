// unwindFrame.ts - frame-pointer unwinder over guest memory (arch/x86/kernel/unwind_frame.c)
//
// Every guest function keeps a frame pointer (`push rbp; mov rbp, rsp`), so a
// task's stack is a chain of 16-byte frame records: at record address `fp`,
// [fp] is the caller's saved RBP (the next record) and [fp+8] the return
// address into the caller. The chain must climb strictly upward inside the
// task's THREAD_SIZE stack and stop exactly at the end-of-stack frame, the
// record at task_pt_regs(task) - 16 whose saved RBP is 0 (docs/abi.md).
//
// This file only follows the chain and checks the stack geometry; what the
// return addresses mean (text or not, interrupt entry or not, how many) is
// judged by the consumer, stacktrace.ts, as the kernel splits unwind_frame.c
// from arch_stack_walk_reliable().

import { PT_REGS, THREAD_SIZE } from '../abi/layout.ts';

/** Size of one frame record: saved RBP, then the return address. */
export const FRAME_HEADER_SIZE = 16;

/** The guest memory the unwinder reads; emu/machine GuestMemory satisfies it. */
export interface StackReader {
  readU64(addr: bigint): bigint;
  isMapped(addr: bigint, size?: number): boolean;
}

/**
 * Where the saved RBP of a switched-out task sits, as a byte offset from its
 * saved RSP (`task->thread_sp`); the return address is the next slot
 * (`rbpSlot + 8`), so the pair is a frame record like any other.
 */
export interface SwitchFrame {
  rbpSlot: number;
}

/**
 * The frame __switch_to_asm leaves on a switched-out stack. It pushes rbp,
 * rbx, r12, r13, r14, r15 (in that order) and saves RSP in prev->thread_sp:
 *
 *   thread_sp + 0x00  r15          thread_sp + 0x20  rbx
 *   thread_sp + 0x08  r14          thread_sp + 0x28  rbp  <- frame record
 *   thread_sp + 0x10  r13          thread_sp + 0x30  return address into
 *   thread_sp + 0x18  r12                            __switch_to_asm's caller
 *
 * __switch_to_asm itself sets up no frame, so the saved rbp is its caller's
 * frame pointer and the walk continues from there.
 */
export const SWITCH_TO_ASM_FRAME: SwitchFrame = { rbpSlot: 5 * 8 };

/**
 * Where a walk starts: a switched-out task from its saved RSP, or a task
 * frozen at an instruction (the current task, or one stopped in a debugger)
 * from its RIP and RBP. RBP must already be the frame of the function RIP is
 * in (not inside a prologue or epilogue), or that function's caller is lost.
 */
export type UnwindStart =
  | { kind: 'switched'; sp: bigint; switchFrame?: SwitchFrame }
  | { kind: 'regs'; ip: bigint; fp: bigint };

/** The task to walk: its stack [stack, stack + stackSize) and where to start. */
export interface UnwindTask {
  /** Lowest address of the task stack (`task->stack`). */
  stack: bigint;
  /** Default THREAD_SIZE. */
  stackSize?: number;
  start: UnwindStart;
}

/**
 * One step of the walk: a return address `ip` read from the frame record at
 * `fp` (ip = [fp + 8]), as unwind_state's `ip` and `bp`. The first frame of
 * a 'regs' start is the RIP itself, paired with the RBP it was given.
 */
export interface Frame {
  ip: bigint;
  fp: bigint;
}

/** Why the chain itself is broken (a subset of stacktrace.ts's UnreliableReason). */
export type UnwindErrorReason = 'fp-outside-stack' | 'fp-not-increasing' | 'missing-end' | 'unmapped';

/** How a walk ended: at the end-of-stack frame, or at a broken record `fp`. */
export type UnwindVerdict =
  | { ok: true }
  | { ok: false; reason: UnwindErrorReason; detail: string; fp: bigint };

/** Every frame reached, and how the walk ended. */
export interface UnwindResult {
  frames: Frame[];
  verdict: UnwindVerdict;
}

/** `0x…` for messages. */
export const hex = (v: bigint): string => `0x${v.toString(16)}`;

/**
 * The end-of-stack frame record of a task: task_pt_regs(task) - 16.
 * @returns its address
 */
export function endOfStackFrame(stack: bigint, stackSize: number = THREAD_SIZE): bigint {
  return stack + BigInt(stackSize - PT_REGS.SIZE - FRAME_HEADER_SIZE);
}

interface Bounds {
  stack: bigint;
  top: bigint;
  end: bigint;
}

function fail(reason: UnwindErrorReason, fp: bigint, detail: string): UnwindVerdict {
  return { ok: false, reason, detail, fp };
}

/**
 * Is a frame record at `fp` safe to read? It must lie in the task stack, not
 * overlap the previous record (`floor`, as update_stack_state()'s
 * prev_frame_end check), not pass the end-of-stack frame, and be mapped.
 * A saved RBP of 0 below the end frame means the chain ended too early.
 */
function checkRecord(mem: StackReader, b: Bounds, fp: bigint, floor: bigint): UnwindVerdict | undefined {
  if (fp === 0n) {
    return fail('missing-end', fp, `frame chain ends (saved rbp 0) before the end-of-stack frame ${hex(b.end)}`);
  }
  if (fp < b.stack || fp + BigInt(FRAME_HEADER_SIZE) > b.top) {
    return fail('fp-outside-stack', fp, `frame pointer ${hex(fp)} outside the task stack [${hex(b.stack)}-${hex(b.top)})`);
  }
  if (fp < floor) {
    return fail('fp-not-increasing', fp, `frame pointer ${hex(fp)} below the previous frame's end ${hex(floor)}`);
  }
  if (fp > b.end) {
    return fail('missing-end', fp, `frame ${hex(fp)} lies above the end-of-stack frame ${hex(b.end)}`);
  }
  if (!mem.isMapped(fp, FRAME_HEADER_SIZE)) {
    return fail('unmapped', fp, `frame record ${hex(fp)} is not mapped`);
  }
  return undefined;
}

/** The first frame record to read (and, for 'regs', the RIP frame that precedes it). */
function firstRecord(start: UnwindStart): { fp: bigint; pc?: Frame } {
  if (start.kind === 'regs') return { fp: start.fp, pc: { ip: start.ip, fp: start.fp } };
  return { fp: start.sp + BigInt((start.switchFrame ?? SWITCH_TO_ASM_FRAME).rbpSlot) };
}

/**
 * Walk the frame chain lazily (unwind_start / unwind_next_frame as a
 * generator): yields each frame, innermost first, and returns the verdict.
 * The walk always terminates: every record is at least 16 bytes above the
 * previous one and inside the stack.
 */
export function* unwindFrames(mem: StackReader, task: UnwindTask): Generator<Frame, UnwindVerdict, void> {
  const top = task.stack + BigInt(task.stackSize ?? THREAD_SIZE);
  const b: Bounds = { stack: task.stack, top, end: endOfStackFrame(task.stack, task.stackSize) };
  const first = firstRecord(task.start);
  if (first.pc) yield first.pc;
  let fp = first.fp;
  let floor = b.stack;
  for (;;) {
    const bad = checkRecord(mem, b, fp, floor);
    if (bad) return bad;
    const next = mem.readU64(fp);
    yield { ip: mem.readU64(fp + 8n), fp };
    if (fp === b.end) {
      if (next === 0n) return { ok: true };
      return fail('missing-end', fp, `end-of-stack frame ${hex(fp)} holds saved rbp ${hex(next)}, not 0`);
    }
    floor = fp + BigInt(FRAME_HEADER_SIZE);
    fp = next;
  }
}

/**
 * Walk a task's frame chain to its end or to the first broken record.
 * @returns every frame reached, innermost first, and the verdict
 */
export function unwindFrame(mem: StackReader, task: UnwindTask): UnwindResult {
  const frames: Frame[] = [];
  const it = unwindFrames(mem, task);
  for (let r = it.next(); ; r = it.next()) {
    if (r.done) return { frames, verdict: r.value };
    frames.push(r.value);
  }
}

/**
 * The walk target of a switched-out task (`task->stack`, `task->thread_sp`).
 * @returns an UnwindTask starting at its __switch_to_asm frame
 */
export function switchedOutTask(t: { stack: bigint; sp: bigint }, switchFrame?: SwitchFrame): UnwindTask {
  return { stack: t.stack, start: { kind: 'switched', sp: t.sp, switchFrame } };
}
