// freeMode.spec.ts - free-running mode with the native syscall hook: syscalls counted, the tick still preempts, sleepers still run
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bootTest, symU64 } from '../../helpers/kernelImage.ts';
import { miniGuest } from '../../helpers/miniGuest.ts';
import type { Kernel } from '../../../src/kernel/kernel.ts';
import { Vector } from '../../../src/abi/layout.ts';

const MS = 1_000_000n;
const live: Kernel[] = [];
afterEach(() => {
  for (const k of live.splice(0)) k.machine.close();
});

function boot(mode: 'free' | 'deterministic'): Kernel {
  const k = bootTest({ cpus: 1, mode });
  live.push(k);
  return k;
}

describe('[emu/machine/machine]: free mode runs syscalls natively', () => {
  it('only free mode gets the native hook; it is disarmed outside a slice', () => {
    expect(boot('deterministic').machine.vcpus[0]!.nativeSyscall).toBeUndefined();
    const v = boot('free').machine.vcpus[0]!;
    expect(v.nativeSyscall).toBeDefined();
    expect(v.nativeSyscall!.armed).toBe(false);
  });

  it('the kernel\'s getpid_loop runs, each native syscall is an event, the JS path sees a small share, sleepers wake', () => {
    const k = boot('free');
    const m = k.machine;
    const v = m.vcpus[0]!;
    // The machine's JS syscall path (the fallback of the native hook).
    const jsSyscalls = vi.spyOn(m as unknown as { onSyscall: () => void }, 'onSyscall');
    const calls0 = symU64(k, 'user_getpid_calls');
    const cat0 = symU64(k, 'user_cat_reads');
    const events0 = v.events;

    m.runFor(300n * MS);

    const calls = symU64(k, 'user_getpid_calls') - calls0;
    expect(calls).toBeGreaterThan(4n * 1024n);
    // Every getpid is a syscall, and every syscall an event, whichever path ran it.
    expect(v.events - events0).toBeGreaterThanOrEqual(calls);
    expect(jsSyscalls.mock.calls.length).toBeLessThan(Number(calls) / 8);
    // The tick still wakes sleepers: cat_cmdline's 50 ms nanosleeps end and it reads /proc/cmdline again.
    expect(symU64(k, 'user_cat_reads') - cat0).toBeGreaterThanOrEqual(2n);
    expect(k.oopses).toEqual([]);
    expect(v.nativeSyscall!.armed).toBe(false);
  });

  // getpid_loop sleeps every 1024 calls, long before a 10 ms tick in free mode: this loop never sleeps,
  // so every tick has to be taken between syscalls that the native hook runs (smp.spec.ts's twin, free mode).
  it('a loop of nothing but syscalls still takes ~10 ticks in 100 ms of guest time', () => {
    const { m, sym } = miniGuest(`
  lea rax, [rip + sys_entry]
  mov rdx, rax
  shr rdx, 32
  mov ecx, 0xc0000082
  wrmsr
  mov eax, 0x200
  xor edx, edx
  mov ecx, 0xc0000084
  wrmsr
  sti
l:
  inc qword ptr [rip + work]
sc:
  syscall
  jmp l`, `sys_entry:\n  inc qword ptr [rip + entries]\n  push r11\n  popfq\n  jmp rcx\nh_tmr: inc qword ptr [rip + ticks]\n  iretq\nticks: .quad 0\nwork: .quad 0\nentries: .quad 0`,
    { [Vector.LOCAL_TIMER]: 'h_tmr' }, ['ticks', 'work', 'entries', 'sc'], { mode: 'free' });
    try {
      const jsSyscalls = vi.spyOn(m as unknown as { onSyscall: () => void }, 'onSyscall');
      // Slices end at a syscall (resuming in sys_entry, IF=0), so the tick raised at the next slice start
      // waits for the loop's syscall instruction, where the JS path delivers it: that path must be reached.
      // It is taken at the first syscall after sys_entry's popfq, not batches later: the slice's event count then is 0 or 1.
      let atSyscall = 0;
      const lateBy: number[] = [];
      m.onDeliver.push((v, vec, rip) => {
        if (vec !== Vector.LOCAL_TIMER || rip !== sym.sc) return;
        atSyscall++;
        if (v.sliceEvents > 1) lateBy.push(v.sliceEvents);
      });
      m.runFor(100n * MS);
      const [ticks, work, entries] = [sym.ticks!, sym.work!, sym.entries!].map((a) => m.mem.readU64(a));
      expect(Number(ticks)).toBeGreaterThanOrEqual(9);
      expect(Number(ticks)).toBeLessThanOrEqual(11);
      expect(work).toBeGreaterThan(9000n);
      expect(atSyscall).toBeGreaterThanOrEqual(5);
      expect(lateBy).toEqual([]);
      // Every syscall reached LSTAR with RCX/R11 right (else the loop would have derailed), and counted.
      expect(entries === work || entries === work - 1n).toBe(true);
      expect(m.vcpus[0]!.events).toBeGreaterThanOrEqual(entries);
      expect(jsSyscalls.mock.calls.length).toBeLessThan(Number(entries) / 8);
    } finally {
      m.close();
    }
  });

  it('a vector raised on the vCPU disarms the hook (the JS path takes pending interrupts)', () => {
    const v = boot('free').machine.vcpus[0]!;
    v.nativeSyscall!.arm(0xffffffff81000000n, ~0n, 64);
    expect(v.nativeSyscall!.armed).toBe(true);
    v.raise(Vector.LOCAL_TIMER);
    expect(v.nativeSyscall!.armed).toBe(false);
  });
});
