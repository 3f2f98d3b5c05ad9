// boot.ts - load vmlinux into a machine, start its vCPUs, serve the machine hypercalls

import { createMachine, type Machine, type MachineOptions, type Vcpu } from '../../emu/machine/index.ts';
import { Prot } from '../../emu/types.ts';
import { Kernel } from './kernel.ts';
import { loadImage } from './loadImage.ts';
import type { KernelImage } from './image.ts';
import {
  BOOT_PARAMS, CMDLINE_LEN, Hypercall, MemoryMap, PAGE_SIZE, PERCPU, THREAD_SIZE,
} from '../abi/layout.ts';
import { LogLevel } from './printk.ts';
import { showRegs, showTraceLogLvl } from './dumpStack.ts';
import { KobjectSysfs } from './kobject.ts';

export interface BootOptions extends MachineOptions {
  /** vmlinux path (default kernel-image/build/vmlinux). */
  kernel?: string;
  /** Already parsed image (tests reuse one). */
  image?: KernelImage;
  cmdline?: string;
  heapSize?: number;
  nrSleepers?: number;
  nrUserTasks?: number;
  /** Return right after loading, before running any instruction. */
  noRun?: boolean;
  /** Guest time allowed for boot (default 5 s). */
  bootTimeoutNs?: bigint;
}

export const DEFAULT_CMDLINE = 'BOOT_IMAGE=/boot/vmlinuz-6.6.0-klpemu root=/dev/vda ro console=ttyS0';

const pageUp = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

/** Map the image's sections, grouped into RX text, R rodata, RW data, at their addresses. */
function mapImage(m: Machine, image: KernelImage): void {
  const groups = new Map<string, { lo: bigint; hi: bigint; perms: number }>();
  for (const s of image.sections) {
    const user = s.addr < MemoryMap.KERNEL_TEXT;
    if (user) continue; // the user region is mapped whole below
    const perms = Prot.READ | (s.exec ? Prot.EXEC : 0) | (s.write ? Prot.WRITE : 0);
    const key = `k${perms}`;
    const g = groups.get(key);
    const hi = s.addr + BigInt(s.size);
    if (g) {
      g.lo = s.addr < g.lo ? s.addr : g.lo;
      g.hi = hi > g.hi ? hi : g.hi;
    } else groups.set(key, { lo: s.addr, hi, perms });
  }
  for (const [key, g] of groups) {
    const lo = g.lo & ~BigInt(PAGE_SIZE - 1);
    m.addRegion(`vmlinux-${key}`, lo, pageUp(Number(g.hi - lo)), g.perms);
  }
  m.addRegion('user', MemoryMap.USER_BASE, Number(MemoryMap.USER_SIZE), Prot.ALL);
  for (const s of image.sections) if (s.data.length) m.mem.write(s.addr, s.data);
}

function fillBootParams(k: Kernel, opts: BootOptions, heapSize: number): void {
  const bp = k.sym('boot_params');
  const mem = k.machine.mem;
  mem.writeU32(bp + BigInt(BOOT_PARAMS.nr_cpus), k.machine.vcpus.length);
  mem.writeU32(bp + BigInt(BOOT_PARAMS.seed), k.machine.seed >>> 0);
  mem.writeU64(bp + BigInt(BOOT_PARAMS.heap_base), MemoryMap.DIRECT_MAP);
  mem.writeU64(bp + BigInt(BOOT_PARAMS.heap_size), BigInt(heapSize));
  mem.writeU32(bp + BigInt(BOOT_PARAMS.nr_sleepers), opts.nrSleepers ?? 0);
  mem.writeU32(bp + BigInt(BOOT_PARAMS.nr_user_tasks), opts.nrUserTasks ?? 2);
  const cmd = Buffer.alloc(CMDLINE_LEN);
  cmd.write((opts.cmdline ?? DEFAULT_CMDLINE).slice(0, CMDLINE_LEN - 1), 'latin1');
  mem.write(bp + BigInt(BOOT_PARAMS.cmdline), cmd);
}

function startCpus(k: Kernel): void {
  const bp = k.sym('boot_params');
  const init = k.kallsyms.lookup('init_stack')!;
  const secondary = k.sym('secondary_stacks');
  k.machine.vcpus.forEach((v, n) => {
    const e = v.engine;
    if (n === 0) {
      e.regWriteBatch(['rip', 'rsp', 'rdi', 'rflags'], [k.sym('startup_64'), init.addr + BigInt(init.size), bp, 2n]);
    } else {
      const sp = secondary + BigInt((n + 1) * THREAD_SIZE);
      e.regWriteBatch(['rip', 'rsp', 'rdi', 'rflags'], [k.sym('secondary_startup_64'), sp, BigInt(n), 2n]);
    }
  });
}

/** The machine's own hypercalls (layout.ts Hypercall 0x01-0x0f). */
function registerMachineHypercalls(k: Kernel): void {
  const m = k.machine;
  const h = m.hypercalls;
  h.register(Hypercall.PANIC, 'panic', ({ args }) => {
    const msg = safeString(k, args[0]!);
    k.printk(LogLevel.EMERG, `Kernel panic - not syncing: ${msg}`);
    m.panic(msg);
  });
  h.register(Hypercall.SEND_IPI, 'send_ipi', ({ args }) => {
    const cpu = Number(args[0]!);
    if (cpu < 0 || cpu >= m.vcpus.length) return -22n;
    m.raiseInterrupt(cpu, Number(args[1]! & 0xffn));
    return 0n;
  });
  h.register(Hypercall.CPU_RELAX, 'cpu_relax', ({ vcpu }) => {
    vcpu.stopRequested = true;
  });
  h.register(Hypercall.BOOT_DONE, 'boot_done', () => {
    k.bootDone = true;
  });
  h.register(Hypercall.CONSOLE_WRITE, 'console_write', ({ args }) => {
    const len = Number(args[1]! & 0xffffn);
    if (!m.mem.isMapped(args[0]!, len)) return -14n;
    m.consoleOut += m.mem.read(args[0]!, len).toString('latin1');
    return BigInt(len);
  });
  h.register(Hypercall.TASK_DEAD, 'task_dead', () => 0n);
  h.register(Hypercall.OOPS, 'oops', ({ vcpu, args }) => oops(k, vcpu, args));
  h.register(Hypercall.HOST_CALL_WAIT, 'host_call_wait', ({ vcpu }) => (m.hostCallWait(vcpu) ? 1n : 0n));
}

function oops(k: Kernel, vcpu: Vcpu, args: bigint[]): bigint {
  const vector = Number(args[0]!);
  const regs = args[1]!;
  const rip = k.machine.mem.isMapped(regs + 128n, 8) ? k.machine.mem.readU64(regs + 128n) : 0n;
  k.oopses.push({ vector, rip, cpu: vcpu.id, text: k.kallsyms.symbolize(rip) });
  // die() -> __die_body -> show_regs: __show_regs, then show_trace_log_lvl, before "---[ end trace ]---"
  for (const line of [...showRegs(k, regs, vcpu.engine), ...showTraceLogLvl(k, vcpu.id, regs)]) k.printk(LogLevel.WARNING, line);
  return 0n;
}

function safeString(k: Kernel, addr: bigint): string {
  return k.machine.mem.isMapped(addr) ? k.machine.mem.readCString(addr, 256) : `<bad address 0x${addr.toString(16)}>`;
}

/** Publish each vCPU's guest time in its per-CPU area before it runs (PERCPU.clock_ns). */
function publishClock(k: Kernel): void {
  k.machine.beforeSlice.push((v) => {
    k.machine.mem.writeU64(k.perCpu(v.id) + BigInt(PERCPU.clock_ns), v.timeNs);
  });
}

/**
 * Create a machine, load vmlinux, and boot it until init reports BOOT_DONE.
 * @throws when the kernel panics or does not finish booting in time
 */
export function bootKernel(opts: BootOptions = {}): Kernel {
  const image = opts.image ?? loadImage(opts.kernel);
  const m = createMachine(opts);
  const heapSize = opts.heapSize ?? Number(MemoryMap.DEFAULT_HEAP_SIZE);
  mapImage(m, image);
  m.addRegion('modules', MemoryMap.MODULES_VADDR, Number(MemoryMap.MODULES_SIZE), Prot.ALL);
  // Module code is input: a loop in it without syscalls or hypercalls must not keep a slice forever.
  m.countBlocksAsEvents(MemoryMap.MODULES_VADDR, MemoryMap.MODULES_VADDR + MemoryMap.MODULES_SIZE - 1n);
  m.addRegion('direct-map', MemoryMap.DIRECT_MAP, heapSize, Prot.READ | Prot.WRITE);
  m.addRegion('vmalloc', MemoryMap.VMALLOC_START, Number(MemoryMap.VMALLOC_SIZE), Prot.READ | Prot.WRITE);
  const k = new Kernel(m, image);
  fillBootParams(k, opts, heapSize);
  registerMachineHypercalls(k);
  new KobjectSysfs(k);
  publishClock(k);
  // TSS.RSP0: an interrupt from user code lands on the current task's stack top.
  m.rsp0 = (v) => {
    const top = m.mem.readU64(k.perCpu(v.id) + BigInt(PERCPU.top_of_stack));
    return top === 0n ? undefined : top;
  };
  startCpus(k);
  if (opts.noRun) return k;
  const ok = m.runUntil(() => k.bootDone, { maxNs: opts.bootTimeoutNs ?? 5_000_000_000n });
  if (!ok) {
    const why = m.panicMessage ? `kernel panic: ${m.panicMessage}` : 'boot did not complete';
    throw new Error(`${why}\n${k.dmesg().join('\n')}`);
  }
  return k;
}
