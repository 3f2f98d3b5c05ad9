// unwindFrame.spec.ts - the frame-pointer walker and reliable stack traces on synthetic guest stacks

import { describe, expect, it } from 'vitest';
import type { GuestMemory } from '../../emu/machine/memory.ts';
import { Prot } from '../../emu/types.ts';
import { PT_REGS, THREAD_SIZE } from '../../src/abi/layout.ts';
import {
  describeStackTrace, formatStack, inRanges, MAX_STACK_ENTRIES, showStack, stackTraceSaveTskReliable,
  UNRELIABLE_REASONS, type UnreliableReason,
} from '../../src/unwind/stacktrace.ts';
import { endOfStackFrame, unwindFrame, type UnwindTask } from '../../src/unwind/unwindFrame.ts';
import {
  DATA, R, STACKS, TEXT, deepTask, newMemory, preds, preemptedTask, sleepingTask, stackN, StackBuilder,
} from './stackBuilder.ts';
import { GuestMemory as Memory } from '../../emu/machine/memory.ts';

const reliable = (mem: GuestMemory, task: UnwindTask) => stackTraceSaveTskReliable(mem, task, preds);

/** A copy of `mem` in which only [stack, stack + mapped) of the stack area is mapped. */
function partiallyMapped(full: GuestMemory, stack: bigint, mapped: number): GuestMemory {
  const mem = new Memory();
  for (const r of full.regions) {
    if (r.base !== STACKS) mem.addRegion(r.name, r.base, r.size, r.perms, []).buf.set(r.buf);
  }
  mem.addRegion('stack-lo', stack, mapped, Prot.READ | Prot.WRITE, []).buf.set(full.read(stack, mapped));
  return mem;
}

describe('[unwind/unwindFrame]: unit', () => {
  it('walks a sleeping task from its __switch_to_asm frame to the end-of-stack frame', () => {
    const mem = newMemory();
    const { b, task, expected } = sleepingTask(mem);
    const sp = task.start.kind === 'switched' ? task.start.sp : 0n;
    const { frames, verdict } = unwindFrame(mem, task);
    expect(verdict).toEqual({ ok: true });
    expect(frames.map((f) => f.ip)).toEqual(expected);
    expect(frames[0]!.fp).toBe(sp + 0x28n);
    expect(frames.map((f) => f.fp)).toEqual([...b.records].reverse());
    expect(frames.at(-1)!.fp).toBe(stackN(0) + BigInt(THREAD_SIZE - PT_REGS.SIZE - 16));
    expect(reliable(mem, task)).toEqual({ ok: true, entries: expected });
  });

  it('starts a frozen task at its RIP and RBP', () => {
    const mem = newMemory();
    const b = new StackBuilder(mem, stackN(0));
    b.call(R.retFromFork);
    b.call(R.inKthread, 0x10); // msleep, frozen at msleep+0x5 with its frame set up
    const task: UnwindTask = { stack: stackN(0), start: { kind: 'regs', ip: TEXT + 0x3005n, fp: b.rbp } };
    const { frames, verdict } = unwindFrame(mem, task);
    expect(verdict.ok).toBe(true);
    expect(frames).toEqual([
      { ip: TEXT + 0x3005n, fp: b.rbp },
      { ip: R.inKthread, fp: b.rbp },
      { ip: R.retFromFork, fp: endOfStackFrame(stackN(0)) },
    ]);
  });

  it('follows another switch frame layout given as rbpSlot', () => {
    const mem = newMemory();
    const b = new StackBuilder(mem, stackN(0));
    b.call(R.retFromFork);
    b.call(R.inKthread);
    const sp = b.switchOut(R.inScheduleCore, 3); // pushes rbp, rbx, r12 only
    const start = { kind: 'switched' as const, sp, switchFrame: { rbpSlot: 16 } };
    const r = reliable(mem, { stack: stackN(0), start });
    expect(r).toEqual({ ok: true, entries: [R.inScheduleCore, R.inKthread, R.retFromFork] });
    expect(reliable(mem, { stack: stackN(0), start: { kind: 'switched', sp } }).ok).toBe(false);
  });

  it('accepts return addresses in module text (a livepatch replacement)', () => {
    const mem = newMemory();
    const { b, task, expected } = sleepingTask(mem);
    mem.writeU64(b.records[2]! + 8n, R.inPatched); // schedule returns into the new msleep
    expect(reliable(mem, task)).toEqual({ ok: true, entries: expected.map((a) => (a === R.inMsleep ? R.inPatched : a)) });
  });

  it('accepts exactly MAX_STACK_ENTRIES entries', () => {
    const mem = newMemory();
    const { task, expected } = deepTask(mem, MAX_STACK_ENTRIES - 2);
    expect(expected).toHaveLength(MAX_STACK_ENTRIES);
    expect(reliable(mem, task)).toEqual({ ok: true, entries: expected });
  });

  it('builds predicates from address ranges', () => {
    const f = inRanges([{ start: 0x10n, end: 0x20n }, { start: R.irqEntry, end: R.irqEntry + 1n }]);
    expect([0xfn, 0x10n, 0x1fn, 0x20n, R.irqEntry, R.irqEntry + 1n].map(f)).toEqual([false, true, true, false, true, false]);
  });
});

/**
 * Each unreliable reason: `build(mem, false)` is the negative control (a
 * reliable stack), `build(mem, true)` the same stack with one thing forged.
 * `saved` is how many entries are stored before the failure.
 */
interface Case {
  name: string;
  reason: UnreliableReason;
  build(mem: GuestMemory, forge: boolean): { mem?: GuestMemory; task: UnwindTask };
  saved: number;
  detail: RegExp;
}

const cases: Case[] = [
  {
    name: 'a return address forged to point into data',
    reason: 'ip-not-text',
    build(mem, forge) {
      const t = sleepingTask(mem);
      if (forge) mem.writeU64(t.b.records[2]! + 8n, DATA + 0x40n); // schedule's return into msleep
      return t;
    },
    saved: 2,
    detail: /return address 0xffffffff81100040 at .* is not kernel text/,
  },
  {
    name: 'a return address of 0',
    reason: 'ip-not-text',
    build(mem, forge) {
      const t = sleepingTask(mem);
      if (forge) mem.writeU64(t.b.records[4]! + 8n, 0n); // the switch frame's return address
      return t;
    },
    saved: 0,
    detail: /return address 0x0 /,
  },
  {
    name: "a saved rbp pointing into another task's stack",
    reason: 'fp-outside-stack',
    build(mem, forge) {
      const t = sleepingTask(mem);
      sleepingTask(mem, stackN(3));
      if (forge) mem.writeU64(t.b.records[3]!, endOfStackFrame(stackN(3)) - 0x40n); // __schedule's saved rbp
      return t;
    },
    saved: 2,
    detail: /frame pointer 0xffff88800000ff08 outside the task stack \[0xffff888000000000-0xffff888000004000\)/,
  },
  {
    name: 'a saved RSP (thread_sp) outside the stack',
    reason: 'fp-outside-stack',
    build(mem, forge) {
      const t = sleepingTask(mem);
      return forge ? { task: { ...t.task, start: { kind: 'switched', sp: DATA } } } : t;
    },
    saved: 0,
    detail: /frame pointer 0xffffffff81100028 outside/,
  },
  {
    name: 'a frame record pointing at itself (loop)',
    reason: 'fp-not-increasing',
    build(mem, forge) {
      const t = sleepingTask(mem);
      if (forge) mem.writeU64(t.b.records[2]!, t.b.records[2]!); // schedule's saved rbp
      return t;
    },
    saved: 3,
    detail: /below the previous frame's end/,
  },
  {
    name: 'a decreasing saved rbp',
    reason: 'fp-not-increasing',
    build(mem, forge) {
      const t = sleepingTask(mem);
      if (forge) mem.writeU64(t.b.records[1]!, t.b.records[3]!); // msleep's saved rbp → __schedule's frame
      return t;
    },
    saved: 4,
    detail: /frame pointer 0xffff888000003e[0-9a-f]{2} below/,
  },
  {
    name: 'overlapping frame records',
    reason: 'fp-not-increasing',
    build(mem, forge) {
      const t = sleepingTask(mem);
      if (forge) mem.writeU64(t.b.records[3]!, t.b.records[3]! + 8n);
      return t;
    },
    saved: 2,
    detail: /below the previous frame's end/,
  },
  {
    name: 'an exception frame in the middle (timer preemption)',
    reason: 'regs-on-stack',
    build: (mem, forge) => preemptedTask(mem, forge ? R.irqEntry : TEXT + 0x6f00n),
    saved: 3,
    detail: /return address 0xffffffff81006010 at .* is in interrupt entry code/,
  },
  {
    name: 'an end-of-stack frame whose saved rbp is not 0',
    reason: 'missing-end',
    build(mem, forge) {
      const t = sleepingTask(mem);
      if (forge) mem.writeU64(t.b.records[0]!, 0xdeadbeefn);
      return t;
    },
    saved: 5,
    detail: /end-of-stack frame 0xffff888000003f48 holds saved rbp 0xdeadbeef, not 0/,
  },
  {
    name: 'a chain ending (saved rbp 0) below the end-of-stack frame',
    reason: 'missing-end',
    build(mem, forge) {
      const t = sleepingTask(mem);
      if (forge) mem.writeU64(t.b.records[1]!, 0n); // msleep's saved rbp
      return t;
    },
    saved: 4,
    detail: /frame chain ends \(saved rbp 0\) before the end-of-stack frame 0xffff888000003f48/,
  },
  {
    name: 'an outermost frame 16 bytes below task_pt_regs - 16',
    reason: 'missing-end',
    build: (mem, forge) => sleepingTask(mem, stackN(0), forge ? 16 : 0),
    saved: 5,
    detail: /frame chain ends/,
  },
  {
    name: 'a chain jumping over the end-of-stack frame into pt_regs',
    reason: 'missing-end',
    build(mem, forge) {
      const t = sleepingTask(mem);
      if (forge) mem.writeU64(t.b.records[1]!, endOfStackFrame(stackN(0)) + 0x20n);
      return t;
    },
    saved: 4,
    detail: /frame 0xffff888000003f68 lies above the end-of-stack frame/,
  },
  {
    name: 'a chain of MAX_STACK_ENTRIES + 1 entries',
    reason: 'too-deep',
    build: (mem, forge) => deepTask(mem, MAX_STACK_ENTRIES - 2 + (forge ? 1 : 0)),
    saved: MAX_STACK_ENTRIES,
    detail: /more than 100 entries \(next 0xffffffff81001010 /,
  },
  {
    name: 'a stack whose upper half is unmapped',
    reason: 'unmapped',
    build(mem, forge) {
      const b = new StackBuilder(mem, stackN(0));
      b.call(R.retFromFork, 0x2000); // a big local array: everything below sits in the lower half
      b.call(R.inKthread);
      const sp = b.switchOut(R.inScheduleCore);
      const task: UnwindTask = { stack: stackN(0), start: { kind: 'switched', sp } };
      return { mem: partiallyMapped(mem, stackN(0), forge ? 0x2000 : THREAD_SIZE), task };
    },
    saved: 2,
    detail: /frame record 0xffff888000003f48 is not mapped/,
  },
  {
    name: 'a stack that is not mapped at all',
    reason: 'unmapped',
    build(mem, forge) {
      const t = sleepingTask(mem);
      return forge ? { mem: partiallyMapped(mem, stackN(0), 0x100), task: t.task } : t;
    },
    saved: 0,
    detail: /is not mapped/,
  },
];

describe('[unwind/unwindFrame]: unit: unreliable stacks', () => {
  for (const c of cases) {
    it(`${c.name}: the unforged stack is reliable`, () => {
      const mem = newMemory();
      const built = c.build(mem, false);
      expect(reliable(built.mem ?? mem, built.task).ok).toBe(true);
    });

    it(`${c.name} → ${c.reason}`, () => {
      const mem = newMemory();
      const built = c.build(mem, true);
      const r = reliable(built.mem ?? mem, built.task);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.reason).toBe(c.reason);
      expect(r.detail).toMatch(c.detail);
      expect(r.entries).toHaveLength(c.saved);
      expect(describeStackTrace(r)).toBe(`${UNRELIABLE_REASONS[c.reason]}: ${r.detail}`);
    });
  }

  it('every reason has a case and a one-line explanation', () => {
    expect(new Set(cases.map((c) => c.reason))).toEqual(new Set(Object.keys(UNRELIABLE_REASONS)));
    for (const text of Object.values(UNRELIABLE_REASONS)) expect(text).not.toMatch(/\n/);
  });

  it('a plain call in place of the interrupt stub hides the interrupted function', () => {
    const mem = newMemory();
    const { task, expected } = preemptedTask(mem, TEXT + 0x6f00n);
    const r = reliable(mem, task);
    expect(r).toEqual({ ok: true, entries: expected });
    expect(r.entries).not.toContain(R.interrupted);
  });

  it('an interrupt entry return address in the end-of-stack frame is the task entry, not regs-on-stack', () => {
    const mem = newMemory();
    const b = new StackBuilder(mem, stackN(0));
    b.call(R.irqEntry); // the handler of an interrupt taken in user mode, on the task's entry pt_regs
    const sp = b.switchOut(R.inScheduleCore);
    expect(reliable(mem, { stack: stackN(0), start: { kind: 'switched', sp } })).toEqual({
      ok: true, entries: [R.inScheduleCore, R.irqEntry],
    });
  });
});

describe('[unwind/unwindFrame]: unit: showStack', () => {
  const sym = (ip: bigint): string => (ip >= TEXT && ip < TEXT + 0x10000n ? `f${(ip - TEXT).toString(16)}` : `0x${ip.toString(16)}`);

  it('shows a good stack in full and says it ended at the end-of-stack frame', () => {
    const mem = newMemory();
    const { task, expected } = sleepingTask(mem);
    const s = showStack(mem, task, preds);
    expect(s.stop).toEqual({ ok: true });
    expect(s.frames.map((f) => [f.ip, f.mark])).toEqual(expected.map((ip) => [ip, '']));
    expect(formatStack(s, sym)).toEqual(['Call Trace:', ' f5050', ' f4040', ' f3030', ' f2020', ' f1010', ' <end of stack>']);
  });

  it('walks past a return address into data, marking it with ?', () => {
    const mem = newMemory();
    const { b, task } = sleepingTask(mem);
    mem.writeU64(b.records[2]! + 8n, DATA + 0x40n);
    const s = showStack(mem, task, preds);
    expect(s.stop.ok).toBe(true);
    expect(s.frames.map((f) => f.mark)).toEqual(['', '', '?', '', '']);
    expect(s.frames[2]!.note).toBe('ip-not-text');
    expect(formatStack(s, sym)[3]).toBe(' ? 0xffffffff81100040');
  });

  it('notes the interrupt entry frame and continues to the end', () => {
    const mem = newMemory();
    const { task, expected } = preemptedTask(mem);
    const s = showStack(mem, task, preds);
    expect(s.stop.ok).toBe(true);
    expect(s.frames.map((f) => f.ip)).toEqual(expected);
    expect(s.frames.filter((f) => f.note).map((f) => [f.ip, f.note])).toEqual([[R.irqEntry, 'regs-on-stack']]);
    expect(formatStack(s, sym)[4]).toBe(' f6010 <IRQ entry>');
    expect(showStack(mem, task, { isKernelText: preds.isKernelText }).frames.every((f) => !f.note)).toBe(true);
  });

  it('stops at a loop and says where and why', () => {
    const mem = newMemory();
    const { b, task } = sleepingTask(mem);
    mem.writeU64(b.records[2]!, b.records[2]!);
    const s = showStack(mem, task, preds);
    expect(s.frames).toHaveLength(3);
    expect(s.stop).toMatchObject({ ok: false, reason: 'fp-not-increasing', fp: b.records[2]! });
    expect(formatStack(s).at(-1)).toMatch(/^ <stopped: frame pointer does not move up the stack: frame pointer 0x[0-9a-f]+ below/);
  });
});
