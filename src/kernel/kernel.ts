// kernel.ts - a booted kernel: the machine plus vmlinux's symbols and the host half of the kernel

import type { Machine, Vcpu } from '../../emu/machine/index.ts';
import { Kallsyms } from './kallsyms.ts';
import { LogBuffer } from './printk.ts';
import { forEachTask, idleTask, readTask, currentTask, type TaskView } from './tasks.ts';
import type { KernelImage } from './image.ts';
import { NR_CPUS, PERCPU } from '../abi/layout.ts';

/**
 * The kernel as host code sees it. Every structure stays in guest memory;
 * this object only knows where things are (symbols) and how to read them.
 */
export class Kernel {
  readonly kallsyms: Kallsyms;
  readonly log: LogBuffer;
  readonly perCpuStart: bigint;
  readonly initTask: bigint;
  bootDone = false;
  /** Oopses reported by the guest (vector, rip, pid). */
  readonly oopses: { vector: number; rip: bigint; cpu: number; text: string }[] = [];

  constructor(readonly machine: Machine, readonly image: KernelImage) {
    this.kallsyms = new Kallsyms(image.symbols);
    this.log = new LogBuffer(machine, this.kallsyms);
    this.perCpuStart = this.sym('__per_cpu_start');
    this.initTask = this.sym('init_task');
  }

  /** Address of a kernel symbol; throws if missing (a broken image). */
  sym(name: string): bigint {
    const s = this.kallsyms.lookup(name);
    if (!s) throw new Error(`kernel symbol ${name} not found`);
    return s.addr;
  }

  /** Per-CPU area of `cpu`. */
  perCpu(cpu: number): bigint {
    return this.perCpuStart + BigInt(cpu * PERCPU.SIZE);
  }

  /** Host printk at `level` (the text as the kernel would print it). */
  printk(level: number, text: string): void {
    this.log.printk(level, text);
  }

  dmesg(): string[] {
    return this.log.dmesg();
  }

  /** Every task on the task list (for_each_process_thread). */
  tasks(): TaskView[] {
    return [...forEachTask(this.machine.mem, this.initTask)];
  }

  /** The idle task of each online CPU. */
  idleTasks(): TaskView[] {
    const out: TaskView[] = [];
    for (let cpu = 0; cpu < this.machine.vcpus.length && cpu < NR_CPUS; cpu++) {
      const t = idleTask(this.machine.mem, this.perCpuStart, cpu);
      if (t !== 0n) out.push(readTask(this.machine.mem, t));
    }
    return out;
  }

  /** The task running on `cpu`'s vCPU. */
  currentOn(cpu: number): TaskView | undefined {
    const t = currentTask(this.machine.mem, this.perCpuStart, cpu);
    return t === 0n ? undefined : readTask(this.machine.mem, t);
  }

  /** The task whose context the vCPU in a hypercall runs. */
  currentOf(v: Vcpu): TaskView | undefined {
    return this.currentOn(v.id);
  }

  findTask(pid: number): TaskView | undefined {
    return [...this.idleTasks(), ...this.tasks()].find((t) => t.pid === pid);
  }

  /** Run the machine until `pred` or `maxNs` of guest time. */
  runUntil(pred: () => boolean, maxNs?: bigint): boolean {
    return this.machine.runUntil(pred, { maxNs });
  }
}
