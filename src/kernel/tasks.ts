// tasks.ts - task_structs read from guest memory (for_each_process_thread, idle_task)

import type { GuestMemory } from '../../emu/machine/index.ts';
import { NR_CPUS, PERCPU, TASK, TASK_COMM_LEN, THREAD_SIZE, PT_REGS, TIF, PF, TaskState } from '../abi/layout.ts';

/** A snapshot of one task_struct. */
export interface TaskView {
  addr: bigint;
  pid: number;
  comm: string;
  state: number;
  tifFlags: bigint;
  patchState: number;
  cpu: number;
  onCpu: boolean;
  pfFlags: number;
  sp: bigint;
  stack: bigint;
}

/** Read the task_struct at `addr` (layout: TASK in layout.ts). */
export function readTask(mem: GuestMemory, addr: bigint): TaskView {
  return {
    addr,
    pid: mem.readI32(addr + BigInt(TASK.pid)),
    comm: mem.readCString(addr + BigInt(TASK.comm), TASK_COMM_LEN),
    state: mem.readU32(addr + BigInt(TASK.__state)),
    tifFlags: mem.readU64(addr + BigInt(TASK.flags)),
    patchState: mem.readI32(addr + BigInt(TASK.patch_state)),
    cpu: mem.readU32(addr + BigInt(TASK.cpu)),
    onCpu: mem.readU32(addr + BigInt(TASK.on_cpu)) !== 0,
    pfFlags: mem.readU32(addr + BigInt(TASK.pf_flags)),
    sp: mem.readU64(addr + BigInt(TASK.thread_sp)),
    stack: mem.readU64(addr + BigInt(TASK.stack)),
  };
}

/** task_pt_regs(task): the pt_regs at the top of the task's stack. */
export function taskPtRegs(t: TaskView): bigint {
  return t.stack + BigInt(THREAD_SIZE - PT_REGS.SIZE);
}

export function isKthread(t: TaskView): boolean {
  return (t.pfFlags & PF.KTHREAD) !== 0;
}

export function isIdle(t: TaskView): boolean {
  return (t.pfFlags & PF.IDLE) !== 0;
}

export function testTif(t: TaskView, bit: number): boolean {
  return (t.tifFlags & (1n << BigInt(bit))) !== 0n;
}

/** ps-style state letter (R, S, D, X). */
export function stateLetter(state: number): string {
  if (state === TaskState.RUNNING) return 'R';
  if (state & TaskState.INTERRUPTIBLE) return 'S';
  if (state & TaskState.UNINTERRUPTIBLE) return 'D';
  if (state & TaskState.DEAD) return 'X';
  return '?';
}

export { TIF };

/**
 * Walk the global task list (list_head `tasks` anchored in init_task). Dead
 * tasks that were unlinked do not appear. Bounded, so a corrupt list ends.
 */
export function* forEachTask(mem: GuestMemory, initTask: bigint, limit = 1 << 20): Generator<TaskView> {
  const head = initTask + BigInt(TASK.tasks);
  let node = mem.readU64(head);
  for (let i = 0; node !== head && node !== 0n && i < limit; i++) {
    yield readTask(mem, node - BigInt(TASK.tasks));
    node = mem.readU64(node);
  }
}

/** idle_task(cpu) from the per-CPU area. */
export function idleTask(mem: GuestMemory, perCpuStart: bigint, cpu: number): bigint {
  if (cpu < 0 || cpu >= NR_CPUS) throw new RangeError(`cpu ${cpu}`);
  return mem.readU64(perCpuStart + BigInt(cpu * PERCPU.SIZE + PERCPU.idle_task));
}

/** cpu_curr(cpu). */
export function currentTask(mem: GuestMemory, perCpuStart: bigint, cpu: number): bigint {
  return mem.readU64(perCpuStart + BigInt(cpu * PERCPU.SIZE + PERCPU.current_task));
}
