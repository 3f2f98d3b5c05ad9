// runawayModule.spec.ts - module code that loops without a guest event (no syscall, hypercall or interrupt) cannot hold a vCPU forever
import { afterEach, describe, expect, it } from 'vitest';
import type { System } from '../../src/system.ts';
import { buildModule } from '../../src/module/build.ts';
import { modulePrelude } from '../../src/module/sources.ts';
import { loadImage } from '../../src/kernel/loadImage.ts';
import { BLOCKS_PER_EVENT } from '../../emu/machine/machine.ts';
import { bootSystem, DEFAULT_CMDLINE_OUT, MS, removeScratch, sh, writeKo } from '../helpers/klpHarness.ts';

/** A module kthread "kspinner" in `inc [spin_count]; pause; jmp`: one block per turn, never an event. */
const SPINNER = [
  'MODULE_LICENSE "GPL"', '.section .text',
  'SYM_FUNC_START spin_loop', '\tpush rbp', '\tmov rbp, rsp', '.Lspin:', '\tinc qword ptr [rip + spin_count]', '\tpause', '\tjmp .Lspin', 'SYM_FUNC_END spin_loop',
  'SYM_FUNC_START_LOCAL spin_init', '\tpush rbp', '\tmov rbp, rsp', '\tlea rdi, [rip + spin_loop]', '\txor esi, esi', '\tlea rdx, [rip + comm]',
  '\tcall kthread_run', '\txor eax, eax', '\tpop rbp', '\tret', 'SYM_FUNC_END spin_init',
  'MODULE_INIT spin_init',
  '.section .rodata', 'SYM_DATA_START_LOCAL comm', '\t.asciz "kspinner"', 'SYM_DATA_END comm',
  '.section .data', 'SYM_DATA_START spin_count', '\t.quad 0', 'SYM_DATA_END spin_count', '',
].join('\n');

const live: System[] = [];
afterEach(() => {
  for (const s of live.splice(0)) s.kernel.machine.close();
  removeScratch();
});

function spinning(seed: number): { sys: System; spins: () => bigint; catReads: () => bigint } {
  const sys = bootSystem({ cpus: 1, seed });
  live.push(sys);
  const k = sys.kernel;
  const ko = buildModule('spin_mod.S', SPINNER, new Set(loadImage().symbols.map((s) => s.name)), modulePrelude());
  expect(sh(sys, `insmod ${writeKo('spin_mod.ko', ko)}`).status).toBe(0);
  const spinCount = k.kallsyms.lookup('spin_count')!.addr;
  return { sys, spins: () => k.machine.mem.readU64(spinCount), catReads: () => k.machine.mem.readU64(k.sym('user_cat_reads')) };
}

describe('[kernel/boot]: module text counts its blocks as guest events', () => {
  it('a kthread spinning in module code without events is preempted by the tick; the other tasks and the shell go on', () => {
    const { sys, spins, catReads } = spinning(21);
    const m = sys.kernel.machine;
    const [s0, c0, e0] = [spins(), catReads(), m.vcpus[0]!.events];
    m.runFor(100n * MS);
    const turns = spins() - s0;
    expect(turns).toBeGreaterThan(BigInt(BLOCKS_PER_EVENT));
    // cat_cmdline sleeps 50 ms between reads: it woke and ran although kspinner never yields.
    expect(catReads() - c0).toBeGreaterThanOrEqual(1n);
    // Each turn is one module block: guest time advanced by at least one event per BLOCKS_PER_EVENT of them.
    expect(m.vcpus[0]!.events - e0).toBeGreaterThanOrEqual(turns / BigInt(BLOCKS_PER_EVENT));
    expect(sh(sys, 'cat /proc/cmdline').out).toBe(DEFAULT_CMDLINE_OUT);
    expect(sys.kernel.oopses).toEqual([]);
  });

  it('deterministic: the same seed gives the same number of turns', () => {
    const run = (seed: number): bigint => {
      const r = spinning(seed);
      r.sys.kernel.machine.runFor(30n * MS);
      return r.spins();
    };
    const a = run(5);
    expect(run(5)).toBe(a);
    expect(a).toBeGreaterThan(0n);
  });
});
