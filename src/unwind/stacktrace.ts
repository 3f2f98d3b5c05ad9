// stacktrace.ts - reliable stack traces for livepatch, and show_stack for backtraces (arch/x86/kernel/stacktrace.c)

import {
  endOfStackFrame, hex, unwindFrames, type Frame, type StackReader, type UnwindTask, type UnwindVerdict,
} from './unwindFrame.ts';

/** Livepatch's stack buffer size (kernel/livepatch/transition.c). */
export const MAX_STACK_ENTRIES = 100;

/** Why a stack is unreliable: one literal per check of arch_stack_walk_reliable(). */
export type UnreliableReason =
  | 'ip-not-text'
  | 'fp-outside-stack'
  | 'fp-not-increasing'
  | 'regs-on-stack'
  | 'missing-end'
  | 'too-deep'
  | 'unmapped';

/**
 * One line per reason, completing klp_try_switch_task's
 * "%s: %s:%d has an unreliable stack" (the guest kernel only says -EINVAL).
 */
export const UNRELIABLE_REASONS = {
  'ip-not-text': 'return address is not kernel or module text',
  'fp-outside-stack': 'frame pointer points outside the task stack',
  'fp-not-increasing': 'frame pointer does not move up the stack',
  'regs-on-stack': 'interrupt or exception registers on the stack',
  'missing-end': 'stack does not end at the end-of-stack frame',
  'too-deep': 'stack has more than MAX_STACK_ENTRIES entries',
  'unmapped': 'stack frame is not mapped',
} as const satisfies Record<UnreliableReason, string>;

/** What the caller knows about code addresses. */
export interface TextPredicates {
  /** __kernel_text_address(): vmlinux or module text (ftrace trampolines included). */
  isKernelText(ip: bigint): boolean;
  /**
   * Is `ip` the return point of a call made by interrupt/exception entry code
   * (the instruction after `call <handler>` in an IDT stub)? Such a return
   * address means a pt_regs of a kernel-mode exception lies just above that
   * frame. Must not match the syscall entry or ret_from_fork.
   */
  isIrqEntryReturn(ip: bigint): boolean;
}

/** Options of stackTraceSaveTskReliable(). */
export interface ReliableOptions extends TextPredicates {
  /** Most entries accepted (default MAX_STACK_ENTRIES); one more is 'too-deep'. */
  maxEntries?: number;
}

/** stack_trace_save_tsk_reliable()'s outcome; `entries` holds what was saved before a failure. */
export type ReliableStackTrace =
  | { ok: true; entries: bigint[] }
  | { ok: false; reason: UnreliableReason; detail: string; entries: bigint[] };

/** A frame problem seen by the consumer (not by the unwinder). */
interface FrameIssue {
  reason: 'ip-not-text' | 'regs-on-stack';
  detail: string;
}

/**
 * The per-frame checks of arch_stack_walk_reliable(). The rule for
 * 'regs-on-stack': a return address into interrupt/exception entry code,
 * anywhere except in the end-of-stack frame. The end frame's pt_regs is the
 * task's own user/entry pt_regs (a syscall, an interrupt from user mode,
 * ret_from_fork), which ends the stack reliably as user_mode(regs) does in
 * the kernel; anywhere else the interrupted function's RIP is in a pt_regs,
 * not in the frame chain, and its frame may be half built.
 */
function checkFrame(f: Frame, end: bigint, p: TextPredicates): FrameIssue | undefined {
  if (f.fp !== end && p.isIrqEntryReturn(f.ip)) {
    return { reason: 'regs-on-stack', detail: `return address ${hex(f.ip)} at ${hex(f.fp + 8n)} is in interrupt entry code` };
  }
  if (!p.isKernelText(f.ip)) {
    return { reason: 'ip-not-text', detail: `return address ${hex(f.ip)} at ${hex(f.fp + 8n)} is not kernel text` };
  }
  return undefined;
}

function unreliable(reason: UnreliableReason, detail: string, entries: bigint[]): ReliableStackTrace {
  return { ok: false, reason, detail, entries };
}

/**
 * stack_trace_save_tsk_reliable(): the return addresses of a task that is not
 * running, innermost first, only if every one of them can be trusted.
 * Unlike the kernel's buffer, exactly maxEntries entries still succeed.
 * @returns the entries, or the first reason the stack is unreliable
 */
export function stackTraceSaveTskReliable(mem: StackReader, task: UnwindTask, opts: ReliableOptions): ReliableStackTrace {
  const max = opts.maxEntries ?? MAX_STACK_ENTRIES;
  const end = endOfStackFrame(task.stack, task.stackSize);
  const entries: bigint[] = [];
  const it = unwindFrames(mem, task);
  for (let r = it.next(); ; r = it.next()) {
    if (r.done) return r.value.ok ? { ok: true, entries } : unreliable(r.value.reason, r.value.detail, entries);
    const issue = checkFrame(r.value, end, opts);
    if (issue) return unreliable(issue.reason, issue.detail, entries);
    if (entries.length >= max) {
      return unreliable('too-deep', `more than ${max} entries (next ${hex(r.value.ip)} at ${hex(r.value.fp + 8n)})`, entries);
    }
    entries.push(r.value.ip);
  }
}

/** A frame of show_stack(): '?' marks a return address that is not text. */
export interface ShownFrame extends Frame {
  mark: '' | '?';
  /** Set when this frame alone would make the stack unreliable. */
  note?: 'ip-not-text' | 'regs-on-stack';
}

/** show_stack()'s walk: every frame reached and where/why it stopped. */
export interface ShownStack {
  frames: ShownFrame[];
  stop: UnwindVerdict;
}

/**
 * show_stack(): walk as far as the frame chain goes, never giving up on a
 * bad return address (it is shown with '?'), for debugger backtraces.
 * `isIrqEntryReturn` is optional here; without it no frame is noted as one.
 * @returns the frames and the verdict of the chain walk
 */
export function showStack(
  mem: StackReader,
  task: UnwindTask,
  preds: Pick<TextPredicates, 'isKernelText'> & Partial<Pick<TextPredicates, 'isIrqEntryReturn'>>,
): ShownStack {
  const end = endOfStackFrame(task.stack, task.stackSize);
  const p: TextPredicates = { isKernelText: preds.isKernelText, isIrqEntryReturn: preds.isIrqEntryReturn ?? (() => false) };
  const frames: ShownFrame[] = [];
  const it = unwindFrames(mem, task);
  for (let r = it.next(); ; r = it.next()) {
    if (r.done) return { frames, stop: r.value };
    const issue = checkFrame(r.value, end, p);
    const mark = issue?.reason === 'ip-not-text' ? '?' : '';
    frames.push(issue ? { ...r.value, mark, note: issue.reason } : { ...r.value, mark });
  }
}

/**
 * Format a ShownStack as the kernel prints a call trace: one ` symbol` line
 * per frame (` ? symbol` when marked), then how the walk ended.
 * @returns the lines, without trailing newlines
 */
export function formatStack(s: ShownStack, symbolize: (ip: bigint) => string = hex): string[] {
  const lines = ['Call Trace:'];
  for (const f of s.frames) {
    const note = f.note === 'regs-on-stack' ? ' <IRQ entry>' : '';
    lines.push(` ${f.mark ? '? ' : ''}${symbolize(f.ip)}${note}`);
  }
  if (s.stop.ok) lines.push(' <end of stack>');
  else lines.push(` <stopped: ${UNRELIABLE_REASONS[s.stop.reason]}: ${s.stop.detail}>`);
  return lines;
}

/**
 * The kernel-style explanation of an unreliable trace, e.g. for a pr_debug
 * after "has an unreliable stack".
 * @returns `<reason text>: <detail>`, or '' for a reliable trace
 */
export function describeStackTrace(t: ReliableStackTrace): string {
  return t.ok ? '' : `${UNRELIABLE_REASONS[t.reason]}: ${t.detail}`;
}

/** A half-open address range [start, end). */
export interface AddressRange {
  start: bigint;
  end: bigint;
}

/**
 * Build a predicate from address ranges, e.g. isIrqEntryReturn from the
 * return points of the IDT stubs (`[ret, ret + 1)` each) or isKernelText
 * from the text sections of vmlinux and the modules.
 * @returns (ip) => ip lies in one of the ranges
 */
export function inRanges(ranges: readonly AddressRange[]): (ip: bigint) => boolean {
  const rs = [...ranges];
  return (ip) => rs.some((r) => ip >= r.start && ip < r.end);
}
