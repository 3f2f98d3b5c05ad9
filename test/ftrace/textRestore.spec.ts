// textRestore.spec.ts - tracing every site and stopping again leaves kernel .text byte-identical to the image; while on, every site calls ftrace_caller or a trampoline
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { bootFtrace, callTarget, counterHandler, Int3Tracker, newOps, prng, textSection, type FtraceKernel } from '../helpers/ftraceKit.ts';
import { FTRACE_NOP, FTRACE_OPS, FTRACE_OPS_FL } from '../../src/abi/layout.ts';
import { ftraceRecCount } from '../../src/ftrace/index.ts';

// Each vCPU engine pays for its first translation-cache flush (adding a code hook) - seconds on a loaded host.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

const TRACING = '/sys/kernel/tracing';

describe('[ftrace/text]: enabling and disabling tracing on all sites', () => {
  let fk: FtraceKernel;
  let text: ReturnType<typeof textSection>;
  const read = (f: string): string => String(fk.k.vfs.read(`${TRACING}/${f}`));
  const lines = (f: string): string[] => read(f).split('\n').slice(0, -1);
  const sitesNop = (): string[] => fk.ftrace.records.filter((r) => !fk.k.machine.mem.read(r.ip, 5).equals(Buffer.from(FTRACE_NOP))).map((r) => r.sym.name);
  beforeAll(() => {
    fk = bootFtrace({ cpus: 2, nrUserTasks: 4, seed: 17 });
    text = textSection(fk.k);
    const int3 = new Int3Tracker(fk.k);
    const rnd = prng(17);
    // SMP: the other vCPUs run between the phases of every batch
    fk.ftrace.poker.afterSync = () => {
      fk.k.machine.runFor(BigInt(rnd(1, 30)) * 10_000n);
      if (fk.ftrace.poker.syncs % 3 === 0) int3.drain();
    };
  });
  afterAll(() => fk.k.machine.close());

  it('the booted text is the image and every record is a nop', () => {
    expect(text.now().equals(text.image)).toBe(true);
    expect(fk.ftrace.records.length).toBeGreaterThan(40);
    expect(sitesNop()).toEqual([]);
  });

  it('function tracer with an empty filter: every site is `e8 rel32` to ftrace_caller, enabled_functions lists each; off again = the image', () => {
    const { k, ftrace } = fk;
    const s0 = ftrace.poker.syncs;
    expect(k.vfs.write(`${TRACING}/current_tracer`, 'function')).toBe(8);
    expect(ftrace.poker.syncs - s0).toBe(3);
    for (const r of ftrace.records) {
      expect(k.machine.mem.readU8(r.ip), r.sym.name).toBe(0xe8);
      expect(callTarget(k, r.ip), r.sym.name).toBe(k.sym('ftrace_caller'));
    }
    expect(lines('enabled_functions')).toEqual(ftrace.records.map((r) => `${r.sym.name} (1)           `));
    // the single ops is called directly from ftrace_caller's slot
    expect(k.machine.mem.readU64(k.sym('ftrace_caller_func'))).toBe(k.sym('function_trace_call'));

    k.machine.runFor(30_000_000n);
    expect(k.oopses).toEqual([]);
    const traced = new Set(fk.tracefs.entries().map((e) => k.kallsyms.find(e.ip)?.name));
    expect(traced.has('__x64_sys_getpid')).toBe(true);
    expect(new Set(fk.tracefs.entries().map((e) => e.cpu)).size).toBe(2);

    expect(k.vfs.write(`${TRACING}/current_tracer`, 'nop')).toBe(3);
    expect(sitesNop()).toEqual([]);
    expect(read('enabled_functions')).toBe('');
    expect(text.now().equals(text.image)).toBe(true);
  });

  it('an ops with its own trampoline on every site, then the tracer too, then both off: trampoline, regs caller, image', () => {
    const { k, ftrace } = fk;
    const h = counterHandler(k);
    const ops = newOps(k, h.addr, FTRACE_OPS_FL.SAVE_REGS);
    expect(ftrace.registerFtraceFunction(ops)).toBe(0);
    const tramp = k.machine.mem.readU64(ops + BigInt(FTRACE_OPS.trampoline));
    expect(k.kallsyms.find(tramp)?.name).toBe('ftrace_trampoline');
    for (const r of ftrace.records) expect(callTarget(k, r.ip), r.sym.name).toBe(tramp);
    const en = lines('enabled_functions');
    expect(en).toHaveLength(ftrace.records.length);
    en.forEach((l, i) => expect(l.startsWith(`${ftrace.records[i]!.sym.name} (1) R `), l).toBe(true));
    k.machine.runFor(10_000_000n);
    expect(h.count()).toBeGreaterThan(0n);

    // two ops on every site, one of them wanting regs: ftrace_regs_caller and the list function
    expect(k.vfs.write(`${TRACING}/current_tracer`, 'function')).toBe(8);
    for (const r of ftrace.records) {
      expect(callTarget(k, r.ip), r.sym.name).toBe(k.sym('ftrace_regs_caller'));
      expect(ftraceRecCount(r)).toBe(2);
    }
    expect(k.machine.mem.readU64(k.sym('ftrace_regs_caller_func'))).toBe(k.sym('ftrace_ops_list_func'));
    k.machine.runFor(10_000_000n);
    expect(k.oopses).toEqual([]);

    expect(k.vfs.write(`${TRACING}/current_tracer`, 'nop')).toBe(3);
    for (const r of ftrace.records) expect(callTarget(k, r.ip), r.sym.name).toBe(tramp);
    expect(ftrace.unregisterFtraceFunction(ops)).toBe(0);
    expect(k.kallsyms.find(tramp)).toBeUndefined();
    expect(sitesNop()).toEqual([]);
    expect(text.now().equals(text.image)).toBe(true);
  });

  it('ten more on/off cycles of the tracer while the machine runs: the image every time', () => {
    const { k } = fk;
    for (let i = 0; i < 10; i++) {
      expect(k.vfs.write(`${TRACING}/current_tracer`, 'function')).toBe(8);
      k.machine.runFor(1_000_000n);
      expect(k.vfs.write(`${TRACING}/current_tracer`, 'nop')).toBe(3);
      expect(text.now().equals(text.image), `cycle ${i}`).toBe(true);
    }
    expect(k.oopses).toEqual([]);
  });
});
