// guestStacks.spec.ts - the reliable unwinder on stacks of the running guest: a kthread preempted mid-function (regs on the stack) against sleeping tasks
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../src/system.ts';
import type { TaskView } from '../../src/kernel/tasks.ts';
import { TaskState } from '../../src/abi/layout.ts';
import { buildModule } from '../../src/module/build.ts';
import { modulePrelude } from '../../src/module/sources.ts';
import { loadImage } from '../../src/kernel/loadImage.ts';
import { showStack, switchedOutTask } from '../../src/unwind/index.ts';
import { bootSystem, removeScratch, sh, writeKo } from '../helpers/klpHarness.ts';

/**
 * spin_mod: its init starts the kthread "kspinner" running spin_loop, which
 * never sleeps or calls anything: only the timer interrupt (kernel
 * preemption in irqentry_exit) takes it off the CPU, in the middle of spin_loop.
 * Its cpu_relax() is the CPU_RELAX hypercall, as in every busy loop of the
 * kernel image: a deterministic slice ends at a guest event, and a loop
 * without any (a bare `pause`) would keep its slice, and the host, forever.
 */
const SPINNER = [
  'MODULE_LICENSE "GPL"', '.section .text',
  'SYM_FUNC_START spin_loop', '\tpush rbp', '\tmov rbp, rsp', '.Lspin:', '\tinc qword ptr [rip + spin_count]', '\tHYPERCALL Hypercall_CPU_RELAX', '\tjmp .Lspin', 'SYM_FUNC_END spin_loop',
  'SYM_FUNC_START_LOCAL spin_init', '\tpush rbp', '\tmov rbp, rsp', '\tlea rdi, [rip + spin_loop]', '\txor esi, esi', '\tlea rdx, [rip + comm]',
  '\tcall kthread_run', '\txor eax, eax', '\tpop rbp', '\tret', 'SYM_FUNC_END spin_init',
  'MODULE_INIT spin_init',
  '.section .rodata', 'SYM_DATA_START_LOCAL comm', '\t.asciz "kspinner"', 'SYM_DATA_END comm',
  '.section .data', 'SYM_DATA_START spin_count', '\t.quad 0', 'SYM_DATA_END spin_count', '',
].join('\n');

describe('[unwind/guest]: reliable stack traces of live guest tasks', () => {
  let sys: System;
  const task = (comm: string): TaskView => sys.kernel.tasks().find((t) => t.comm === comm)!;
  beforeAll(() => {
    sys = bootSystem({ cpus: 1, seed: 21 });
    const ko = buildModule('spin_mod.S', SPINNER, new Set(loadImage().symbols.map((s) => s.name)), modulePrelude());
    expect(sh(sys, `insmod ${writeKo('spin_mod.ko', ko)}`).status).toBe(0);
  });
  afterAll(() => {
    sys.kernel.machine.close();
    removeScratch();
  });

  it('kspinner, preempted while runnable, has the timer interrupt\'s pt_regs on its stack: unreliable (regs-on-stack)', () => {
    const k = sys.kernel;
    const spinLoop = k.kallsyms.lookup('spin_loop')!;
    // run until kspinner is off the CPU although it never blocks: preempted by the tick
    const off = (): boolean => {
      const t = task('kspinner');
      return !!t && !t.onCpu && t.state === TaskState.RUNNING && k.machine.mem.readU64(k.kallsyms.lookup('spin_count')!.addr) > 0n;
    };
    expect(k.runUntil(off, 2_000_000_000n)).toBe(true);
    const t = task('kspinner');
    const trace = k.stackTraceReliable(t);
    expect(trace.ok).toBe(false);
    if (trace.ok) return;
    expect(trace.reason).toBe('regs-on-stack');
    // the walk shows the path: __schedule ... preempt_schedule_irq <- irqentry_exit <- the interrupt stub,
    // and past the pt_regs, spin_loop's caller: the interrupted function itself is only in regs->ip
    const shown = showStack(k.machine.mem, switchedOutTask({ stack: t.stack, sp: t.sp }), {
      isKernelText: (ip) => k.isKernelText(ip), isIrqEntryReturn: (ip) => k.isIrqEntryReturn(ip),
    });
    const names = shown.frames.map((f) => k.kallsyms.find(f.ip)?.name);
    expect(names).toContain('preempt_schedule_irq');
    expect(names).toContain('irqentry_exit');
    expect(names.some((n) => n?.startsWith('asm_sysvec_'))).toBe(true);
    expect(trace.detail).toMatch(/is in interrupt entry code/);
    // the pt_regs the stub saved holds an ip inside spin_loop's body (past its entry nop and frame setup)
    const inBody = (ip: bigint): boolean => ip > spinLoop.addr + 5n && ip < spinLoop.addr + BigInt(spinLoop.size);
    const stackWords = Array.from({ length: 2048 }, (_, i) => k.machine.mem.readU64(t.sp + BigInt(i * 8)));
    expect(stackWords.some(inBody)).toBe(true);
  });

  it('negative control: tasks asleep in msleep_interruptible (khungtaskd, init) have reliable stacks ending at the end-of-stack frame', () => {
    const k = sys.kernel;
    for (const comm of ['khungtaskd', 'init']) {
      expect(k.runUntil(() => !task(comm).onCpu && task(comm).state !== TaskState.RUNNING, 2_000_000_000n)).toBe(true);
      const trace = k.stackTraceReliable(task(comm));
      expect(trace.ok, comm).toBe(true);
      const names = trace.entries.map((ip) => k.kallsyms.find(ip)?.name);
      expect(names, comm).toContain('msleep_interruptible');
      expect(names, comm).toContain('ret_from_fork');
    }
  });

  it('the livepatch transition refuses to switch kspinner for that reason while it is preempted', () => {
    const k = sys.kernel;
    const preempted = (): boolean => !task('kspinner').onCpu && task('kspinner').state === TaskState.RUNNING;
    expect(sh(sys, `insmod ${'kernel-image/build/modules/livepatch-sample.ko'}`).status).toBe(0);
    const tr = sys.livepatch.transition;
    // kspinner never returns to user mode or sleeps, so nothing but a clean stack check could switch it.
    // klp_transition_work runs in a kworker in the kernel, so the spinner is always preempted when it
    // looks; the host's retry runs between slices: take the attempt at such a moment.
    expect(k.runUntil(preempted, 2_000_000_000n)).toBe(true);
    expect(tr.patch).toBeDefined();
    expect(tr.klpTryCompleteTransition()).toBe(false);
    expect(tr.blocked.map((b) => `${b.comm}:${b.reason}`)).toContain('kspinner:unreliable-stack');
    expect(tr.blocked.find((b) => b.comm === 'kspinner')!.detail).toMatch(/is in interrupt entry code/);
    expect(task('kspinner').patchState).not.toBe(1);
    expect(sh(sys, 'cat /sys/kernel/livepatch/livepatch_sample/transition').out).toBe('1\n');
  });
});
