// stackBuilder.ts - synthetic task stacks in a GuestMemory, laid out exactly as the guest lays them out

import { GuestMemory } from '../../emu/machine/memory.ts';
import { Prot } from '../../emu/types.ts';
import { MemoryMap, PT_REGS, THREAD_SIZE } from '../../src/abi/layout.ts';
import { switchedOutTask, type UnwindTask } from '../../src/unwind/unwindFrame.ts';

export const TEXT = MemoryMap.KERNEL_TEXT;
export const TEXT_SIZE = 0x10000;
export const DATA = TEXT + 0x100000n;
export const MODULE_TEXT = MemoryMap.MODULES_VADDR;
/** Four THREAD_SIZE-aligned stacks in the direct map. */
export const STACKS = MemoryMap.DIRECT_MAP;
export const stackN = (n: number): bigint => STACKS + BigInt(n * THREAD_SIZE);

/** Return addresses (the instruction after a `call`) of a made-up kernel. */
export const R = {
  retFromFork: TEXT + 0x1010n, // ret_from_fork, after `call rbx`
  inKthread: TEXT + 0x2020n, // sleeper_fn, after `call msleep`
  inMsleep: TEXT + 0x3030n, // msleep, after `call schedule`
  inSchedule: TEXT + 0x4040n, // schedule, after `call __schedule`
  inScheduleCore: TEXT + 0x5050n, // __schedule, after `call __switch_to_asm`
  irqEntry: TEXT + 0x6010n, // asm_sysvec_apic_timer_interrupt, after `call sysvec_apic_timer_interrupt`
  inTimer: TEXT + 0x7020n, // sysvec_apic_timer_interrupt, after `call preempt_schedule_irq`
  inPreempt: TEXT + 0x7420n, // preempt_schedule_irq, after `call __schedule`
  inBusy: TEXT + 0x8030n, // busy_fn, after `call spin_a_bit`
  interrupted: TEXT + 0x8811n, // spin_a_bit, mid-function where the timer hit
  inPatched: MODULE_TEXT + 0x140n, // a livepatch replacement function, after a call
} as const;

/** Kernel + module text of the made-up kernel. */
export const isKernelText = (ip: bigint): boolean =>
  (ip >= TEXT && ip < TEXT + BigInt(TEXT_SIZE)) || (ip >= MODULE_TEXT && ip < MODULE_TEXT + 0x1000n);
export const isIrqEntryReturn = (ip: bigint): boolean => ip === R.irqEntry;
export const preds = { isKernelText, isIrqEntryReturn };

/** A GuestMemory with text, data and four task stacks (no engine needed). */
export function newMemory(): GuestMemory {
  const mem = new GuestMemory();
  mem.addRegion('text', TEXT, TEXT_SIZE, Prot.READ | Prot.EXEC, []);
  mem.addRegion('data', DATA, 0x1000, Prot.READ | Prot.WRITE, []);
  mem.addRegion('modules', MODULE_TEXT, 0x1000, Prot.ALL, []);
  mem.addRegion('stacks', STACKS, 4 * THREAD_SIZE, Prot.READ | Prot.WRITE, []);
  return mem;
}

/**
 * Pushes onto a task stack from its top down, as the CPU and the guest code
 * would: `call` pushes a return address, the callee's prologue pushes RBP and
 * sets RBP = RSP. `records` lists the frame records made, outermost first.
 */
export class StackBuilder {
  sp: bigint;
  rbp = 0n;
  readonly records: bigint[] = [];

  /** Start with RSP at task_pt_regs(task) (minus `skew` bytes), RBP = 0 as ret_from_fork leaves it. */
  constructor(readonly mem: GuestMemory, readonly stack: bigint, skew = 0) {
    this.sp = stack + BigInt(THREAD_SIZE - PT_REGS.SIZE - skew);
  }

  push(v: bigint): void {
    this.sp -= 8n;
    this.mem.writeU64(this.sp, v);
  }

  /** `call f` from the current function (returning to `ret`), then f's prologue and `sub rsp, locals`. */
  call(ret: bigint, locals = 0): bigint {
    this.push(ret);
    this.push(this.rbp);
    this.rbp = this.sp;
    this.records.push(this.sp);
    this.sp -= BigInt(locals);
    return this.rbp;
  }

  /** `call __switch_to_asm` (returning to `ret`), which pushes rbp then `nRegs - 1` more callee-saved registers. */
  switchOut(ret: bigint, nRegs = 6): bigint {
    this.push(ret);
    this.push(this.rbp);
    this.records.push(this.sp);
    for (let i = 1; i < nRegs; i++) this.push(0x5a5a_0000n + BigInt(i)); // rbx, r12..r15
    return this.sp;
  }

  /** The CPU delivers an interrupt at `ip` (no stack switch); the IDT stub pushes the rest of pt_regs. */
  interrupt(ip: bigint): bigint {
    const rsp = this.sp;
    for (const v of [0x18n, rsp, 0x202n, 0x10n, ip, -1n]) this.push(v); // ss, sp, flags, cs, ip, orig_ax
    for (let i = 0; i < 15; i++) this.push(i === 10 ? this.rbp : 0x1111n * BigInt(i)); // rdi..r15, rbp at 32
    return this.sp;
  }
}

/** A task: its stack, its walk target and the return addresses a reliable walk must give. */
export interface BuiltTask {
  b: StackBuilder;
  task: UnwindTask;
  expected: bigint[];
}

/** A kthread sleeping in msleep: sleeper_fn → msleep → schedule → __schedule → __switch_to_asm. */
export function sleepingTask(mem: GuestMemory, stack = stackN(0), skew = 0): BuiltTask {
  const b = new StackBuilder(mem, stack, skew);
  b.call(R.retFromFork, 0x20); // sleeper_fn: its frame record is the end-of-stack frame
  b.call(R.inKthread, 0x10); // msleep
  b.call(R.inMsleep); // schedule
  b.call(R.inSchedule, 0x30); // __schedule
  const sp = b.switchOut(R.inScheduleCore);
  const expected = [R.inScheduleCore, R.inSchedule, R.inMsleep, R.inKthread, R.retFromFork];
  return { b, task: switchedOutTask({ stack, sp }), expected };
}

/**
 * A kthread preempted by the timer in the middle of spin_a_bit: busy_fn →
 * spin_a_bit ⇢ (interrupt) asm stub → sysvec handler → preempt_schedule_irq
 * → __schedule → __switch_to_asm. The handler's return address is `entryRet`
 * (R.irqEntry for the real thing).
 */
export function preemptedTask(mem: GuestMemory, entryRet: bigint = R.irqEntry, stack = stackN(1)): BuiltTask {
  const b = new StackBuilder(mem, stack);
  b.call(R.retFromFork, 0x20); // busy_fn
  b.call(R.inBusy, 0x18); // spin_a_bit, interrupted before it calls anything
  b.interrupt(R.interrupted);
  b.call(entryRet, 0x8); // sysvec_apic_timer_interrupt
  b.call(R.inTimer); // preempt_schedule_irq
  b.call(R.inPreempt, 0x30); // __schedule
  const sp = b.switchOut(R.inScheduleCore);
  const expected = [R.inScheduleCore, R.inPreempt, R.inTimer, entryRet, R.inBusy, R.retFromFork];
  return { b, task: switchedOutTask({ stack, sp }), expected };
}

/** A kthread `depth` calls deep, switched out: 1 + depth + 1 entries. */
export function deepTask(mem: GuestMemory, depth: number, stack = stackN(2)): BuiltTask {
  const b = new StackBuilder(mem, stack);
  b.call(R.retFromFork);
  const expected = [R.retFromFork];
  for (let i = 0; i < depth; i++) {
    const ret = TEXT + 0x9000n + BigInt(i * 0x10);
    b.call(ret);
    expected.unshift(ret);
  }
  const sp = b.switchOut(R.inScheduleCore);
  return { b, task: switchedOutTask({ stack, sp }), expected: [R.inScheduleCore, ...expected] };
}
