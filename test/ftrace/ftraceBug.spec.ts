// ftraceBug.spec.ts - old-bytes mismatch: a corrupted site refuses the whole update (or its record at boot), prints ftrace_bug and kills ftrace
import { afterEach, describe, expect, it } from 'vitest';
import { bootTest, dmesgText } from '../helpers/kernelImage.ts';
import { bootFtrace, callBytes, counterHandler, newOps, textSection, type FtraceKernel } from '../helpers/ftraceKit.ts';
import { attachFtrace } from '../../src/ftrace/index.ts';
import { BP_PATCHING, FTRACE_NOP, FTRACE_OPS, FTRACE_OPS_FL } from '../../src/abi/layout.ts';
import type { PokeSite } from '../../src/ftrace/index.ts';

const NAMES = ['cmdline_proc_show', 'seq_puts', 'seq_putc', '__x64_sys_getpid'];
const CORRUPT = Buffer.from([0x90, 0x90, 0x90, 0x90, 0x90]);
const ENODEV = -19;
const EINVAL = -22;

/** The ftrace_bug report in dmesg, from its cut line on. */
function bugReport(fk: FtraceKernel): string[] {
  const lines = dmesgText(fk.k);
  const at = lines.indexOf('------------[ ftrace bug ]------------');
  expect(at, lines.join('\n')).toBeGreaterThanOrEqual(0);
  return lines.slice(at, at + 10);
}

const colons = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

describe('[ftrace/bug]: old bytes that are not what ftrace expects', () => {
  let fk: FtraceKernel;
  afterEach(() => fk.k.machine.close());

  it('one corrupted site of a batch: -EINVAL, no byte of any site written, ftrace_bug lines, ftrace disabled', () => {
    fk = bootFtrace({ cpus: 2, seed: 9 });
    const { k, ftrace } = fk;
    const h = counterHandler(k);
    const ops = newOps(k, h.addr);
    const ips = NAMES.map((n) => ftrace.recordOf(n)!.ip);
    for (const ip of ips) expect(ftrace.ftraceSetFilterIp(ops, ip, false, false)).toBe(0);
    const victim = ips[2]!;
    k.machine.mem.write(victim, CORRUPT);
    const text = textSection(k);
    const before = text.now();
    const s0 = ftrace.poker.syncs;
    const b0 = ftrace.poker.batches;

    expect(ftrace.registerFtraceFunction(ops)).toBe(EINVAL);
    expect(text.now().equals(before)).toBe(true);
    ips.forEach((ip, i) => expect(k.machine.mem.read(ip, 5), NAMES[i]).toEqual(i === 2 ? CORRUPT : Buffer.from(FTRACE_NOP)));
    expect(ftrace.poker.syncs).toBe(s0);
    expect(ftrace.poker.batches).toBe(b0);
    expect(ftrace.disabled).toBe(true);
    expect(Number(k.machine.mem.readU64(ops + BigInt(FTRACE_OPS.flags))) & FTRACE_OPS_FL.ENABLED).toBe(0);
    expect(ftrace.records.every((r) => r.flags === 0 && r.target === 0n)).toBe(true);

    const rep = bugReport(fk);
    const sym = k.kallsyms.find(victim)!;
    expect(rep[1]).toMatch(/^ftrace failed to modify ?$/);
    expect(rep[2]).toBe(`[<${victim.toString(16).padStart(16, '0')}>] seq_putc+0x0/0x${sym.size.toString(16)}`);
    expect(rep[3]).toBe(' actual:   90:90:90:90:90');
    expect(rep[4]).toBe(' expected: 0f:1f:44:00:00');
    // print_bug_type(): the site was to become a call
    expect(rep[5]).toBe('Setting ftrace call site to call ftrace function');
    expect(rep[6]).toBe('ftrace record flags: 0');
    expect(rep[7]).toBe(' (0)    ');
    // ftrace_get_addr_curr() of a nop record: FTRACE_ADDR
    expect(rep[8]).toBe(` expected tramp: ${k.sym('ftrace_caller').toString(16)}`);
    expect(dmesgText(k).some((l) => l.startsWith('WARNING: ') && l.includes('ftrace_bug'))).toBe(true);

    // ftrace is dead: nothing registers any more, the tracer cannot start, the text stays
    expect(ftrace.registerFtraceFunction(newOps(k, h.addr))).toBe(ENODEV);
    expect(k.vfs.write('/sys/kernel/tracing/current_tracer', 'function')).toBe(ENODEV);
    expect(k.vfs.read('/sys/kernel/tracing/enabled_functions')).toBe('');
    expect(text.now().equals(before)).toBe(true);
  });

  it('a traced site overwritten behind ftrace: unregister fails, expected shows the call, the other sites keep theirs', () => {
    fk = bootFtrace({ cpus: 1, seed: 4 });
    const { k, ftrace } = fk;
    const h = counterHandler(k);
    const ops = newOps(k, h.addr);
    const ips = NAMES.map((n) => ftrace.recordOf(n)!.ip);
    for (const ip of ips) expect(ftrace.ftraceSetFilterIp(ops, ip, false, false)).toBe(0);
    expect(ftrace.registerFtraceFunction(ops)).toBe(0);
    const tramp = k.machine.mem.readU64(ops + BigInt(FTRACE_OPS.trampoline));
    ips.forEach((ip) => expect(k.machine.mem.read(ip, 5)).toEqual(Buffer.from(callBytes(ip, tramp))));
    const victim = ips[0]!;
    k.machine.mem.write(victim, CORRUPT);
    const before = ips.map((ip) => k.machine.mem.read(ip, 5));

    expect(ftrace.unregisterFtraceFunction(ops)).toBe(EINVAL);
    ips.forEach((ip, i) => expect(k.machine.mem.read(ip, 5), NAMES[i]).toEqual(before[i]));
    expect(ftrace.disabled).toBe(true);
    const rep = bugReport(fk);
    expect(rep[2]).toMatch(/^\[<ffffffff[0-9a-f]{8}>\] cmdline_proc_show\+0x0\/0x[0-9a-f]+$/);
    expect(rep[3]).toBe(' actual:   90:90:90:90:90');
    expect(rep[4]).toBe(` expected: ${colons(callBytes(victim, tramp))}`);
    expect(rep[5]).toBe('Setting ftrace call site to NOP');
    const flags = ftrace.recordOf('cmdline_proc_show')!.flags;
    expect(rep[6]).toBe(`ftrace record flags: ${(flags >>> 0).toString(16)}`);
    // TRAMP_EN, but the ops is off ftrace_ops_list already (ftrace_shutdown unlinks it before the
    // update): ftrace_find_tramp_ops_any finds none, as in the kernel; ftrace_get_addr_curr still does.
    expect(rep[7]).toBe(' (1)    \ttramp: ERROR!');
    expect(rep[8]).toBe(` expected tramp: ${tramp.toString(16)}`);
  });

  it('a second ops on a trampoline site whose bytes changed: "Updating ftrace call site", both ops\' trampolines listed', () => {
    fk = bootFtrace({ cpus: 1, seed: 5 });
    const { k, ftrace } = fk;
    const h = counterHandler(k);
    const a = newOps(k, h.addr);
    const site = ftrace.recordOf('seq_putc')!.ip;
    expect(ftrace.ftraceSetFilterIp(a, site, false, true)).toBe(0);
    expect(ftrace.registerFtraceFunction(a)).toBe(0);
    const tramp = k.machine.mem.readU64(a + BigInt(FTRACE_OPS.trampoline));
    k.machine.mem.write(site, CORRUPT);
    const b = newOps(k, counterHandler(k, 'second_handler').addr);
    expect(ftrace.ftraceSetFilterIp(b, site, false, true)).toBe(0);
    expect(ftrace.registerFtraceFunction(b)).toBe(EINVAL);
    expect(k.machine.mem.read(site, 5)).toEqual(CORRUPT);
    const rep = bugReport(fk);
    expect(rep[4]).toBe(` expected: ${colons(callBytes(site, tramp))}`);
    expect(rep[5]).toBe('Updating ftrace call site to call a different ftrace function');
    // every listed ops with a trampoline on the site, newest first (b got its own at register time)
    const t = (fn: string): string => `\\ttramp: ftrace_trampoline\\+0x0/0x[0-9a-f]+ \\[__builtin__ftrace\\] \\(${fn}\\+0x0/0x9 \\[ftrace_test\\]\\)`;
    expect(rep[7]).toMatch(new RegExp(`^ \\(1\\)    ${t('second_handler')}${t('test_ftrace_handler')}$`));
    expect(rep[8]).toBe(` expected tramp: ${tramp.toString(16)}`);
  });

  it('at boot (ftrace_init): a site that is not the ftrace nop gets no record, is left as it is, and is reported', () => {
    const k = bootTest({ cpus: 1, seed: 3 });
    const victim = k.kallsyms.lookup('seq_puts')!.addr;
    expect(k.image.mcountLoc).toContain(victim);
    k.machine.mem.write(victim, CORRUPT);
    const ft = attachFtrace(k);
    fk = { k, ...ft };
    expect(ft.ftrace.ftraceLocation(victim)).toBe(0n);
    expect(ft.ftrace.records).toHaveLength(new Set(k.image.mcountLoc).size - 1);
    expect(k.machine.mem.read(victim, 5)).toEqual(CORRUPT);
    const rep = bugReport(fk);
    expect(rep[1]).toMatch(/^ftrace failed to modify ?$/);
    expect(rep[2]).toMatch(/^\[<ffffffff[0-9a-f]{8}>\] seq_puts\+0x0\/0x[0-9a-f]+$/);
    expect(rep[3]).toBe(' actual:   90:90:90:90:90');
    expect(rep[4]).toBe(' expected: 0f:1f:44:00:00');
    expect(rep[5]).toBe('Initializing ftrace call sites');
    expect(rep[8]).toBe(` expected tramp: ${k.sym('ftrace_caller').toString(16)}`);
    expect(ft.ftrace.disabled).toBe(true);
    expect(ft.ftrace.registerFtraceFunction(newOps(k, counterHandler(k).addr))).toBe(ENODEV);
  });

  it('negative control: an intact image boots with no ftrace bug and every site a record', () => {
    const k = bootTest({ cpus: 1, seed: 3 });
    const ft = attachFtrace(k);
    fk = { k, ...ft };
    expect(dmesgText(k)).not.toContain('------------[ ftrace bug ]------------');
    expect(ft.ftrace.records).toHaveLength(new Set(k.image.mcountLoc).size);
    expect(ft.ftrace.disabled).toBe(false);
  });

  it('TextPoker refuses a batch whose sites do not all hold their old bytes, before publishing or writing anything', () => {
    fk = bootFtrace({ cpus: 1, seed: 2 });
    const { k, ftrace } = fk;
    const mem = k.machine.mem;
    const base = k.moduleArea.alloc(64, 16n);
    const target = k.sym('ftrace_caller');
    const sites: PokeSite[] = [0, 16, 32].map((o) => {
      const addr = base + BigInt(o);
      mem.write(addr, FTRACE_NOP);
      return { addr, old: FTRACE_NOP, new: callBytes(addr, target) };
    });
    mem.write(sites[1]!.addr, CORRUPT);
    const s0 = ftrace.poker.syncs;
    const bad = ftrace.poker.textPokeBpBatch(sites);
    expect(bad?.site.addr).toBe(sites[1]!.addr);
    expect(Buffer.from(bad!.actual)).toEqual(CORRUPT);
    expect(mem.read(sites[0]!.addr, 5)).toEqual(Buffer.from(FTRACE_NOP));
    expect(mem.read(sites[1]!.addr, 5)).toEqual(CORRUPT);
    expect(mem.read(sites[2]!.addr, 5)).toEqual(Buffer.from(FTRACE_NOP));
    expect(ftrace.poker.syncs).toBe(s0);
    expect(mem.readU64(k.sym('bp_desc') + BigInt(BP_PATCHING.nr_entries))).toBe(0n);
    expect(mem.readU64(k.sym('bp_desc') + BigInt(BP_PATCHING.vec))).toBe(0n);
  });
});
