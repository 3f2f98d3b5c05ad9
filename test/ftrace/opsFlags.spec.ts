// opsFlags.spec.ts - IPMODIFY exclusivity, PERMANENT ops against the ftrace_enabled sysctl, and ftrace_enabled=0 leaving every site a nop
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootFtrace, callTarget, counterHandler, newOps, type FtraceKernel } from '../helpers/ftraceKit.ts';
import { FTRACE_NOP, FTRACE_OPS, FTRACE_OPS_FL as FL } from '../../src/abi/layout.ts';
import { ftraceRecCount } from '../../src/ftrace/index.ts';

const EBUSY = -16;
const SYSCTL = '/proc/sys/kernel/ftrace_enabled';
const LIVEPATCH_FLAGS = FL.IPMODIFY | FL.SAVE_REGS;

describe('[ftrace/ops]: ops flags that restrict registration', () => {
  let fk: FtraceKernel;
  let handler: bigint;
  let ip: (name: string) => bigint;
  const flags = (ops: bigint): number => Number(fk.k.machine.mem.readU64(ops + BigInt(FTRACE_OPS.flags)));
  const nop = (at: bigint): boolean => fk.k.machine.mem.read(at, 5).equals(Buffer.from(FTRACE_NOP));
  const opsOn = (fn: string, f: number): bigint => {
    const ops = newOps(fk.k, handler, f);
    expect(fk.ftrace.ftraceSetFilterIp(ops, ip(fn), false, true)).toBe(0);
    return ops;
  };
  beforeAll(() => {
    fk = bootFtrace({ cpus: 2, seed: 6 });
    handler = counterHandler(fk.k).addr;
    ip = (name) => fk.ftrace.recordOf(name)!.ip;
  });
  afterAll(() => fk.k.machine.close());

  it('a second IPMODIFY ops on the same function is -EBUSY and changes nothing; other functions and plain ops are fine', () => {
    const { ftrace } = fk;
    const a = opsOn('cmdline_proc_show', LIVEPATCH_FLAGS);
    const b = opsOn('cmdline_proc_show', LIVEPATCH_FLAGS);
    const c = opsOn('seq_puts', LIVEPATCH_FLAGS);
    const plain = opsOn('cmdline_proc_show', 0);
    expect(ftrace.registerFtraceFunction(a)).toBe(0);
    const site = ip('cmdline_proc_show');
    const before = fk.k.machine.mem.read(site, 5);
    expect(callTarget(fk.k, site)).toBe(fk.k.machine.mem.readU64(a + BigInt(FTRACE_OPS.trampoline)));

    expect(ftrace.registerFtraceFunction(b)).toBe(EBUSY);
    expect(flags(b) & FL.ENABLED).toBe(0);
    expect(fk.k.machine.mem.read(site, 5)).toEqual(before);
    expect(ftraceRecCount(ftrace.recordOf('cmdline_proc_show')!)).toBe(1);

    expect(ftrace.registerFtraceFunction(c)).toBe(0);
    expect(ftrace.registerFtraceFunction(plain)).toBe(0);
    expect(ftraceRecCount(ftrace.recordOf('cmdline_proc_show')!)).toBe(2);
    // an IPMODIFY ops over every function collides too
    expect(ftrace.registerFtraceFunction(newOps(fk.k, handler, LIVEPATCH_FLAGS))).toBe(EBUSY);
    for (const o of [a, c, plain]) expect(ftrace.unregisterFtraceFunction(o)).toBe(0);
    // the owner gone, the second one may come
    expect(ftrace.registerFtraceFunction(b)).toBe(0);
    expect(ftrace.unregisterFtraceFunction(b)).toBe(0);
    expect(ftrace.records.every((r) => nop(r.ip))).toBe(true);
  });

  // Linux: ftrace_set_filter_ip -> ftrace_hash_move_and_update_ops ->
  // __ftrace_hash_update_ipmodify returns -EBUSY.
  it('adding an IPMODIFY-owned function to another registered IPMODIFY ops\' filter is -EBUSY', () => {
    const { ftrace } = fk;
    const a = opsOn('cmdline_proc_show', LIVEPATCH_FLAGS);
    const b = opsOn('seq_puts', LIVEPATCH_FLAGS);
    try {
      expect(ftrace.registerFtraceFunction(a)).toBe(0);
      expect(ftrace.registerFtraceFunction(b)).toBe(0);
      expect(ftrace.ftraceSetFilterIp(b, ip('cmdline_proc_show'), false, false)).toBe(EBUSY);
      expect(ftrace.opsOn(ip('cmdline_proc_show')).length).toBe(1);
    } finally {
      ftrace.unregisterFtraceFunction(a);
      ftrace.unregisterFtraceFunction(b);
    }
  });

  it('PERMANENT: ftrace_enabled cannot go to 0 while one is registered, and one cannot register while it is 0', () => {
    const { k, ftrace } = fk;
    const perm = opsOn('seq_putc', FL.PERMANENT);
    expect(ftrace.registerFtraceFunction(perm)).toBe(0);
    expect(k.vfs.write(SYSCTL, '0')).toBe(EBUSY);
    expect(k.vfs.read(SYSCTL)).toBe('1\n');
    expect(ftrace.ftraceEnabled).toBe(true);
    expect(nop(ip('seq_putc'))).toBe(false);
    expect(ftrace.unregisterFtraceFunction(perm)).toBe(0);

    expect(k.vfs.write(SYSCTL, '0')).toBe(1);
    expect(k.vfs.read(SYSCTL)).toBe('0\n');
    expect(ftrace.registerFtraceFunction(perm)).toBe(EBUSY);
    expect(flags(perm) & FL.ENABLED).toBe(0);
    expect(nop(ip('seq_putc'))).toBe(true);
    expect(k.vfs.write(SYSCTL, '1\n')).toBe(2);
    expect(k.vfs.write(SYSCTL, '2')).toBe(-22);
  });

  it('ftrace_enabled=0: every site is a nop though ops (and the function tracer) stay registered; 1 brings the calls back', () => {
    const { k, ftrace, tracefs } = fk;
    const ops = opsOn('seq_puts', 0);
    expect(ftrace.registerFtraceFunction(ops)).toBe(0);
    expect(k.vfs.write('/sys/kernel/tracing/current_tracer', 'function')).toBe(8);
    expect(ftrace.records.every((r) => !nop(r.ip))).toBe(true);

    expect(k.vfs.write(SYSCTL, '0')).toBe(1);
    expect(ftrace.records.filter((r) => !nop(r.ip)).map((r) => r.sym.name)).toEqual([]);
    expect(tracefs.enabledFunctions()).toBe('');
    // registering another (non-PERMANENT) ops while disabled still patches nothing
    const late = opsOn('seq_putc', 0);
    expect(ftrace.registerFtraceFunction(late)).toBe(0);
    expect(nop(ip('seq_putc'))).toBe(true);
    k.machine.runFor(20_000_000n);
    expect(k.oopses).toEqual([]);

    expect(k.vfs.write(SYSCTL, '1')).toBe(1);
    expect(ftrace.records.every((r) => !nop(r.ip))).toBe(true);
    expect(callTarget(k, ip('cmdline_proc_show'))).toBe(k.sym('ftrace_caller'));
    // seq_puts and seq_putc have two ops each (the tracer and theirs): the list function via ftrace_caller
    expect(callTarget(k, ip('seq_puts'))).toBe(k.sym('ftrace_caller'));
    expect(ftraceRecCount(ftrace.recordOf('seq_puts')!)).toBe(2);
    for (const o of [ops, late]) expect(ftrace.unregisterFtraceFunction(o)).toBe(0);
    expect(k.vfs.write('/sys/kernel/tracing/current_tracer', 'nop')).toBe(3);
    expect(ftrace.records.every((r) => nop(r.ip))).toBe(true);
  });
});
