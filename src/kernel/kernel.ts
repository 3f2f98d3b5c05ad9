// kernel.ts - a booted kernel: the machine plus vmlinux's symbols and the host half of the kernel

import type { Machine, Vcpu } from '../../emu/machine/index.ts';
import { Kallsyms } from './kallsyms.ts';
import { createTaintSysctl } from './panic.ts';
import { LogBuffer } from './printk.ts';
import { forEachTask, idleTask, readTask, currentTask, type TaskView } from './tasks.ts';
import type { KernelImage } from './image.ts';
import { MemoryMap, NR_CPUS, PERCPU, THREAD_SIZE } from '../abi/layout.ts';
import { RangeAllocator } from './vmalloc.ts';
import { stackTraceSaveTskReliable, switchedOutTask, type ReliableStackTrace } from '../unwind/index.ts';
import { VirtualFs } from './sysfs.ts';

/** Names of the interrupt/exception entry stubs (kernel-image traps/idt code). */
const ENTRY_STUB = /^(asm_exc_|asm_sysvec_|asm_common_interrupt|common_interrupt|irq_entries|exc_entry|error_entry|asm_)/;

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
  /** Host allocations the guest reads (vmalloc area). */
  readonly vmalloc = new RangeAllocator('vmalloc', MemoryMap.VMALLOC_START, MemoryMap.VMALLOC_SIZE);
  /** module_alloc(): module sections and ftrace trampolines (the first page is callGuest's return stub). */
  readonly moduleArea = new RangeAllocator('module', MemoryMap.MODULES_VADDR + 0x1000n, MemoryMap.MODULES_SIZE - 0x1000n);
  /** sysfs, tracefs and host-served procfs files. */
  readonly vfs = new VirtualFs();
  /** Tasks the host asked to wake (fake signals, kthread kicks), woken when no rq lock is held. */
  private readonly wakeQueue: bigint[] = [];
  /** One stack per nesting level of callGuest (a callback from inside a module's init runs below it, not over it). */
  private readonly callStacks: bigint[] = [];
  private callDepth = 0;
  /** Kernel and module text ranges [lo, hi) (__kernel_text_address). */
  readonly textRanges: { lo: bigint; hi: bigint; owner: string }[] = [];
  /** Interrupt/exception entry stubs: a return address into them means a pt_regs on the stack. */
  private entryRanges: { lo: bigint; hi: bigint }[] = [];
  /** Oopses reported by the guest (vector, rip, pid). */
  readonly oopses: { vector: number; rip: bigint; cpu: number; text: string }[] = [];

  constructor(readonly machine: Machine, readonly image: KernelImage) {
    this.kallsyms = new Kallsyms(image.symbols);
    this.log = new LogBuffer(machine, this.kallsyms);
    this.perCpuStart = this.sym('__per_cpu_start');
    this.initTask = this.sym('init_task');
    machine.afterSlice.push(() => this.drainWakeQueue());
    createTaintSysctl(this);
    for (const sec of image.sections) if (sec.exec && sec.addr >= 0xffff_8000_0000_0000n) this.textRanges.push({ lo: sec.addr, hi: sec.addr + BigInt(sec.size), owner: 'vmlinux' });
    this.entryRanges = image.symbols
      .filter((s) => s.type === 'func' && ENTRY_STUB.test(s.name))
      .map((s) => ({ lo: s.addr, hi: s.addr + BigInt(s.size) }));
  }

  /** __kernel_text_address(): vmlinux or module text. */
  isKernelText(ip: bigint): boolean {
    return this.textRanges.some((r) => ip >= r.lo && ip < r.hi);
  }

  /** A return address into interrupt/exception entry code. */
  isIrqEntryReturn(ip: bigint): boolean {
    return this.entryRanges.some((r) => ip > r.lo && ip <= r.hi);
  }

  /**
   * stack_trace_save_tsk_reliable() of a task that is not running: walks its
   * switched-out stack from `thread_sp`.
   */
  stackTraceReliable(t: TaskView): ReliableStackTrace {
    return stackTraceSaveTskReliable(this.machine.mem, switchedOutTask({ stack: t.stack, sp: t.sp }), {
      isKernelText: (ip) => this.isKernelText(ip),
      isIrqEntryReturn: (ip) => this.isIrqEntryReturn(ip),
    });
  }

  /**
   * Call guest function `fn(args...)` synchronously (the host playing C code
   * that calls into the kernel, e.g. livepatch callbacks), as the CPU `like`
   * (default: the vCPU in the current hypercall, else CPU 0).
   */
  callGuest(fn: bigint, args: bigint[], like?: Vcpu): bigint {
    const depth = this.callDepth;
    this.callStacks[depth] ??= this.vmalloc.alloc(THREAD_SIZE, 4096n) + BigInt(THREAD_SIZE);
    const v = like ?? this.machine.current ?? this.machine.vcpus[0]!;
    this.callDepth++;
    try {
      // Any address that is never executed ends the call; the module area's first page is reserved for it.
      return this.machine.callGuest(fn, args, { like: v, stackTop: this.callStacks[depth]!, retAddr: MemoryMap.MODULES_VADDR });
    } finally {
      this.callDepth--;
    }
  }

  /** Ask for wake_up_process(task) (wake_up_state / signal_wake_up from host code). */
  requestWakeUp(t: TaskView): void {
    if (!this.wakeQueue.includes(t.addr)) this.wakeQueue.push(t.addr);
  }

  /** Run queued wake-ups once no CPU is stopped inside a run-queue critical section. */
  private drainWakeQueue(): void {
    if (this.wakeQueue.length === 0) return;
    for (let cpu = 0; cpu < this.machine.vcpus.length; cpu++) {
      if (this.machine.mem.readU64(this.perCpu(cpu) + BigInt(PERCPU.rq_lock)) !== 0n) return;
    }
    const fn = this.sym('wake_up_process');
    for (const t of this.wakeQueue.splice(0)) this.callGuest(fn, [t], this.machine.vcpus[0]);
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

  /** CPUs that reached their idle loop (PERCPU.online): _NPROCESSORS_ONLN. */
  onlineCpus(): number {
    let n = 0;
    for (let cpu = 0; cpu < this.machine.vcpus.length && cpu < NR_CPUS; cpu++) {
      if (this.machine.mem.readU64(this.perCpu(cpu) + BigInt(PERCPU.online)) !== 0n) n++;
    }
    return n;
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
