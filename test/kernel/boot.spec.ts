// boot.spec.ts - the kernel boots on 1, 2 and 4 vCPUs, the tick shares one CPU between tasks, and a run is a pure function of its seed
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { bootTest, dmesgText, perCpuU64, switchCount, symU64, taskByComm, unsignedBlockHookEngine } from '../helpers/kernelImage.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import type { BootOptions } from '../../src/kernel/boot.ts';
import { catProc } from '../../src/kernel/klpsh.ts';
import { isIdle, isKthread, readTask, stateLetter, taskPtRegs } from '../../src/kernel/tasks.ts';
import { NR_CPUS, TaskState, Vector } from '../../src/abi/layout.ts';
import type { X86Reg } from '../../emu/types.ts';

const MS = 1_000_000n;
const EXPECTED_TASKS = ['init', 'kworker/0:1', 'khungtaskd', 'getpid_loop', 'cat_cmdline', 'klpsh'];
const KTHREADS = ['init', 'kworker/0:1', 'khungtaskd'];
const REGS: X86Reg[] = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags', 'gs_base'];

const live: Kernel[] = [];
function boot(opts: BootOptions = {}): Kernel {
  const k = bootTest(opts);
  live.push(k);
  return k;
}
afterEach(() => {
  for (const k of live.splice(0)) k.machine.close();
});


describe('[kernel/boot]: SMP bring-up', () => {
  it.each([1, 2, 4])('boots on %i vCPU(s): dmesg, swapper/N idle tasks, PERCPU.online, the tasks init starts', (n) => {
    const k = boot({ cpus: n });
    const lines = dmesgText(k);
    expect(lines[0]).toMatch(/^Linux version 6\.6\.0-klpemu /);
    expect(lines.filter((l) => l.startsWith('smp: Brought up'))).toEqual([`smp: Brought up 1 node, ${n} CPUs`]);
    expect(lines).toContain('Run /sbin/init as init process');
    expect(k.oopses).toEqual([]);
    expect(k.machine.panicMessage).toBeUndefined();

    const idle = k.idleTasks();
    expect(idle.map((t) => [t.comm, t.pid, t.cpu])).toEqual(Array.from({ length: n }, (_, c) => [`swapper/${c}`, 0, c]));
    for (const t of idle) expect(isIdle(t) && isKthread(t), t.comm).toBe(true);
    for (let c = 0; c < NR_CPUS; c++) {
      // CPUs beyond n were never brought up: their per-CPU areas stay zero.
      expect(perCpuU64(k, c, 'online'), `cpu ${c}`).toBe(c < n ? 1n : 0n);
      expect(perCpuU64(k, c, 'idle_task'), `cpu ${c}`).toBe(c < n ? idle[c]!.addr : 0n);
      if (c < n) expect(perCpuU64(k, c, 'cpu_number')).toBe(BigInt(c));
    }

    const tasks = k.tasks();
    expect(tasks.map((t) => t.comm).sort()).toEqual([...EXPECTED_TASKS].sort());
    expect(taskByComm(k, 'init').pid).toBe(1);
    const pids = tasks.map((t) => t.pid);
    expect(new Set(pids).size).toBe(pids.length);
    for (const t of tasks) {
      expect(t.pid, t.comm).toBeGreaterThan(0);
      expect(t.cpu, t.comm).toBeLessThan(n);
      expect(isKthread(t), t.comm).toBe(KTHREADS.includes(t.comm));
      expect(isIdle(t), t.comm).toBe(false);
    }
    // select_task_rq spreads new tasks over every online CPU.
    expect(new Set(tasks.map((t) => t.cpu)).size).toBe(Math.min(n, tasks.length));
  });

  it.each([1, 2, 4])('on %i vCPU(s), every sleeping task has a reliable stack ending at the end-of-stack frame', (n) => {
    const k = boot({ cpus: n });
    k.machine.runFor(50n * MS);
    const mem = k.machine.mem;
    const sleeping = k.tasks().filter((t) => stateLetter(t.state) === 'S' && !t.onCpu);
    expect(sleeping.length, 'sleeping tasks to check').toBeGreaterThanOrEqual(3);
    for (const t of sleeping) {
      const trace = k.stackTraceReliable(t);
      expect(trace, `${t.comm}: ${JSON.stringify(trace, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`).toMatchObject({ ok: true });
      const regs = taskPtRegs(t);
      // The outermost frame record sits at task_pt_regs - 16: saved RBP 0, then the entry code's return address.
      expect(mem.readU64(regs - 16n), t.comm).toBe(0n);
      expect(trace.entries.length, t.comm).toBeGreaterThanOrEqual(2);
      expect(trace.entries.at(-1), t.comm).toBe(mem.readU64(regs - 8n));
      expect(k.isKernelText(trace.entries.at(-1)!), t.comm).toBe(true);
    }
  });
});

describe('[kernel/boot]: the tick on one vCPU', () => {
  it('over 200 ms of guest time: ~20 ticks, and getpid_loop and every other task make progress', () => {
    const k = boot({ cpus: 1 });
    const tasks = k.tasks();
    const before = new Map(tasks.map((t) => [t.comm, switchCount(k, t)]));
    const ticks0 = perCpuU64(k, 0, 'ticks');
    const calls0 = symU64(k, 'user_getpid_calls');
    const wd0 = symU64(k, 'watchdog_count');
    const cat0 = symU64(k, 'user_cat_reads');
    const t0 = k.machine.vcpus[0]!.timeNs;

    k.machine.runFor(200n * MS);

    const elapsed = k.machine.vcpus[0]!.timeNs - t0;
    expect(elapsed).toBeGreaterThanOrEqual(200n * MS);
    const ticks = perCpuU64(k, 0, 'ticks') - ticks0;
    expect(Number(ticks)).toBeGreaterThanOrEqual(Number(elapsed / (10n * MS)) - 1);
    expect(Number(ticks)).toBeLessThanOrEqual(Number(elapsed / (10n * MS)) + 1);
    // The CPU-bound user task ran (a nanosleep every 1024 getpid calls)...
    expect(symU64(k, 'user_getpid_calls') - calls0).toBeGreaterThan(4n * 1024n);
    // ...and so did the sleepers: khungtaskd every 100 ms, cat_cmdline every 50 ms, klpsh polls every tick.
    expect(symU64(k, 'watchdog_count') - wd0).toBeGreaterThanOrEqual(1n);
    expect(symU64(k, 'user_cat_reads') - cat0).toBeGreaterThanOrEqual(3n);
    for (const comm of ['getpid_loop', 'khungtaskd', 'cat_cmdline', 'klpsh']) {
      expect(switchCount(k, taskByComm(k, comm)), comm).toBeGreaterThan(before.get(comm)!);
    }
    expect(k.oopses).toEqual([]);
  });

  // Was a product bug: interrupts were injected only at slice starts, where a syscall-heavy task
  // always sits in entry_SYSCALL_64 with IF=0; the machine now takes a pending interrupt at the
  // syscall instruction (before it executes) when IF=1. Machine-level twin: smp.spec.ts "syscall loop".
  it('the tick preempts getpid_loop while it is still runnable (involuntary switch)', () => {
    const k = boot({ cpus: 1 });
    const m = k.machine;
    const gp = taskByComm(k, 'getpid_loop');
    let ticksWhileRunning = 0;
    let preempted = 0;
    m.onDeliver.push((_v, vec) => {
      if (vec === Vector.LOCAL_TIMER && k.currentOn(0)?.addr === gp.addr) ticksWhileRunning++;
    });
    // Every switch away from getpid_loop while it is still TASK_RUNNING is a preemption
    // (observed at __switch_to_asm(prev = rdi), not at slice ends, which can miss a round trip).
    const sw = k.sym('__switch_to_asm');
    m.vcpus[0]!.engine.addCodeHook(() => {
      const e = m.vcpus[0]!.engine;
      if (e.regRead('rdi') === gp.addr && readTask(m.mem, gp.addr).state === TaskState.RUNNING) preempted++;
    }, sw, sw);
    m.runFor(200n * MS);
    expect(symU64(k, 'user_getpid_calls')).toBeGreaterThan(4n * 1024n);
    expect(ticksWhileRunning).toBeGreaterThan(0);
    expect(preempted).toBeGreaterThan(0);
  });
});

/** What one deterministic run shows: dmesg, per-vCPU counters, the slice order, and a guest read of /proc/cmdline. */
interface Run {
  dmesg: string[];
  dmesgText: string[];
  cpus: { timeNs: bigint; slices: number; events: bigint; insns: bigint }[];
  /** `vcpu:events` of every slice from the first instruction on (afterSlice). */
  trace: string[];
  cmdline: { status: bigint; out: string };
}

const CMDLINE = 'BOOT_IMAGE=/boot/vmlinuz-klpemu root=/dev/vda ro klpemu.test=determinism';

function record(seed: number, opts: BootOptions = {}, runNs = 100n * MS): Run {
  const k = boot({ cpus: 2, seed, cmdline: CMDLINE, noRun: true, ...opts });
  const trace: string[] = [];
  k.machine.afterSlice.push((v) => trace.push(`${v.id}:${v.sliceEvents}`));
  expect(k.machine.runUntil(() => k.bootDone, { maxNs: 5_000n * MS })).toBe(true);
  k.machine.runFor(runNs);
  const cmdline = catProc(k, '/proc/cmdline');
  const cpus = k.machine.vcpus.map((v) => ({ timeNs: v.timeNs, slices: v.slices, events: v.events, insns: v.insns }));
  return { dmesg: k.dmesg(), dmesgText: dmesgText(k), cpus, trace, cmdline };
}

describe('[kernel/boot]: determinism (2 vCPUs)', () => {
  it('the same seed twice: identical dmesg, per-vCPU timeNs/slices/events and slice-by-slice interleaving', () => {
    const a = record(7);
    const b = record(7);
    expect(a.trace.length).toBeGreaterThan(100);
    for (const c of a.cpus) expect(c.events).toBeGreaterThan(0n);
    expect(b.dmesg).toEqual(a.dmesg);
    expect(b.cpus).toEqual(a.cpus);
    expect(b.trace).toEqual(a.trace);
    expect(b.cmdline).toEqual(a.cmdline);
  });

  it('countInstructions: the same seed twice gives identical per-vCPU instruction counts, and counting does not perturb the run', () => {
    // unsignedBlockHookEngine works around the block-hook address bug pinned in smp.spec.ts.
    const counted = { countInstructions: true, engineFactory: unsignedBlockHookEngine };
    // A short run: the block hook costs a host callback per executed block.
    const a = record(7, counted, 10n * MS);
    const b = record(7, counted, 10n * MS);
    const plain = record(7, {}, 10n * MS);
    for (const c of a.cpus) expect(c.insns).toBeGreaterThan(c.events);
    expect(b.cpus.map((c) => c.insns)).toEqual(a.cpus.map((c) => c.insns));
    expect(b).toEqual(a);
    expect(plain.trace).toEqual(a.trace);
    expect(plain.dmesg).toEqual(a.dmesg);
  });

  it('seeds 1, 2 and 3 interleave differently, yet every run reads the same /proc/cmdline and logs the same lines', () => {
    const runs = [1, 2, 3].map((seed) => record(seed));
    const shapes = runs.map((r) => JSON.stringify({ trace: r.trace, cpus: r.cpus }, (_, v) => (typeof v === 'bigint' ? `${v}` : v)));
    expect(new Set(shapes).size).toBeGreaterThan(1);
    for (const r of runs) {
      expect(r.cmdline.out).toBe(`${CMDLINE}\n`);
      expect(r.cmdline.status).toBe(BigInt(CMDLINE.length + 1));
      expect(r.dmesgText).toEqual(runs[0]!.dmesgText);
    }
  });

  it('snapshot, run 50 ms, restore, run 50 ms again: identical registers, memory, counters and dmesg', () => {
    const k = boot({ cpus: 2, seed: 5, heapSize: 8 << 20 });
    const m = k.machine;
    m.runFor(20n * MS);
    const state = () => ({
      regs: m.vcpus.map((v) => v.engine.regReadBatch(REGS)),
      mem: m.mem.regions.map((r) => `${r.name}:${createHash('sha256').update(r.buf).digest('hex')}`),
      cpus: m.vcpus.map((v) => [v.timeNs, v.slices, v.events, v.halted]),
      now: m.nowNs,
      dmesg: k.dmesg(),
    });
    const snap = m.snapshot();
    const atSnap = state();
    m.runFor(50n * MS);
    const first = state();
    expect(first.mem).not.toEqual(atSnap.mem);
    expect(first.cpus).not.toEqual(atSnap.cpus);
    m.restore(snap);
    expect(state()).toEqual(atSnap);
    m.runFor(50n * MS);
    expect(state()).toEqual(first);
    expect(k.oopses).toEqual([]);
  });
});
