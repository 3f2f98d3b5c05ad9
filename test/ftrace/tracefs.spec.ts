// tracefs.spec.ts - /sys/kernel/tracing file formats: function lists, filters with globs, current_tracer, enabled_functions with trampolines, the trace
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootFtrace, callTarget, counterHandler, newOps, type FtraceKernel } from '../helpers/ftraceKit.ts';
import { FTRACE_NOP, FTRACE_OPS_FL } from '../../src/abi/layout.ts';
import { catProc } from '../../src/kernel/klpsh.ts';

const T = '/sys/kernel/tracing';
const EINVAL = -22;
const SEQ = ['seq_vprintf', 'seq_printf', 'seq_puts', 'seq_putc', 'seq_put_decimal_ull_width', 'seq_printf_width'];
const ENTRY = /^ {0,15}(\S.{0,15})-(\d+) *\[(\d{3})\] \.\.\.\.\. +(\d+)\.(\d{6}): (\w+) <-(\w+)$/;

describe('[ftrace/tracefs]: tracefs files', () => {
  let fk: FtraceKernel;
  const read = (f: string): string => String(fk.k.vfs.read(`${T}/${f}`));
  const write = (f: string, v: string): number => fk.k.vfs.write(`${T}/${f}`, v);
  const ip = (name: string): bigint => fk.ftrace.recordOf(name)!.ip;
  beforeAll(() => {
    fk = bootFtrace({ cpus: 2, seed: 8 });
  });
  afterAll(() => fk.k.machine.close());

  it('available_filter_functions: one traceable name per line, by address; notrace functions absent', () => {
    const { k, ftrace } = fk;
    const names = read('available_filter_functions').split('\n');
    expect(names.pop()).toBe('');
    expect(names).toHaveLength(new Set(k.image.mcountLoc).size);
    names.forEach((n, i) => {
      expect(n).toMatch(/^[A-Za-z_]\w*$/);
      // the i-th line is the function at the i-th lowest site address
      expect(k.kallsyms.lookupAll(n).some((s) => s.addr === ftrace.records[i]!.ip), n).toBe(true);
      if (i) expect(ftrace.records[i]!.ip > ftrace.records[i - 1]!.ip).toBe(true);
    });
    expect(names).toContain('cmdline_proc_show');
    expect(names).toContain('__x64_sys_getpid');
    for (const notrace of ['__schedule', 'do_syscall_64', 'ftrace_stub', 'poke_int3_handler', 'function_trace_call']) {
      expect(k.kallsyms.lookup(notrace), notrace).toBeDefined();
      expect(names).not.toContain(notrace);
    }
    expect(read('available_tracers')).toBe('function nop\n');
  });

  it('set_ftrace_filter: globs, !name, reset on a plain write, the all-functions line, -EINVAL for no match', () => {
    expect(read('set_ftrace_filter')).toBe('#### all functions enabled ####\n');
    expect(write('set_ftrace_filter', 'seq_*')).toBe(5);
    expect(read('set_ftrace_filter')).toBe(SEQ.map((n) => `${n}\n`).join(''));
    expect(write('set_ftrace_filter', '!seq_puts !seq_putc')).toBe(19);
    expect(read('set_ftrace_filter')).toBe(SEQ.filter((n) => n !== 'seq_puts' && n !== 'seq_putc').map((n) => `${n}\n`).join(''));
    expect(write('set_ftrace_filter', 'nosuch_*')).toBe(EINVAL);
    expect(write('set_ftrace_filter', '__schedule')).toBe(EINVAL);
    expect(write('set_ftrace_filter', 'seq_puts nosuch')).toBe(EINVAL);
    expect(read('set_ftrace_filter').split('\n')).toHaveLength(SEQ.length - 2 + 1);
    expect(write('set_ftrace_filter', 'cmdline_proc_show seq_put?')).toBe(26);
    expect(read('set_ftrace_filter')).toBe('cmdline_proc_show\nseq_puts\nseq_putc\n');
    expect(write('set_ftrace_filter', '')).toBe(0);
    expect(read('set_ftrace_filter')).toBe('#### all functions enabled ####\n');
  });

  it('set_ftrace_notrace and current_tracer: notrace sites stay nops under the function tracer', () => {
    const { k, ftrace } = fk;
    expect(read('set_ftrace_notrace')).toBe('#### no functions disabled ####\n');
    expect(write('set_ftrace_notrace', 'seq_put*')).toBe(8);
    expect(read('set_ftrace_notrace')).toBe('seq_puts\nseq_putc\nseq_put_decimal_ull_width\n');
    expect(read('current_tracer')).toBe('nop\n');
    expect(write('current_tracer', 'blah')).toBe(EINVAL);
    expect(write('current_tracer', 'function')).toBe(8);
    expect(read('current_tracer')).toBe('function\n');
    for (const r of ftrace.records) {
      const off = r.sym.name.startsWith('seq_put');
      expect(callTarget(k, r.ip), r.sym.name).toBe(off ? undefined : k.sym('ftrace_caller'));
    }
    expect(read('enabled_functions')).not.toMatch(/^seq_put/m);
    expect(write('current_tracer', 'nop')).toBe(3);
    expect(write('set_ftrace_notrace', '')).toBe(0);
    expect(read('set_ftrace_notrace')).toBe('#### no functions disabled ####\n');
    expect(ftrace.records.every((r) => k.machine.mem.read(r.ip, 5).equals(Buffer.from(FTRACE_NOP)))).toBe(true);
  });

  it('enabled_functions: flags columns, and the trampoline of a single-ops site with its handler', () => {
    const { k, ftrace } = fk;
    const h = counterHandler(k, 'tfs_handler');
    const ops = newOps(k, h.addr, FTRACE_OPS_FL.IPMODIFY | FTRACE_OPS_FL.SAVE_REGS);
    expect(ftrace.ftraceSetFilterIp(ops, ip('seq_puts'), false, true)).toBe(0);
    expect(ftrace.ftraceSetFilterIp(ops, ip('cmdline_proc_show'), false, false)).toBe(0);
    expect(ftrace.registerFtraceFunction(ops)).toBe(0);
    const tramp = /^\ttramp: ftrace_trampoline\+0x0\/0x[0-9a-f]+ \[__builtin__ftrace\] \(tfs_handler\+0x0\/0x9 \[ftrace_test\]\) ->tfs_handler\+0x0\/0x9 \[ftrace_test\]$/;
    let lines = read('enabled_functions').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(2);
    expect(lines[0]!.startsWith('cmdline_proc_show (1) R I       \t')).toBe(true);
    expect(lines[0]!.slice('cmdline_proc_show (1) R I       '.length)).toMatch(tramp);
    expect(lines[1]!.slice('seq_puts (1) R I       '.length)).toMatch(tramp);
    // a second ops on seq_puts: count 2, no single trampoline any more
    expect(write('set_ftrace_filter', 'seq_puts')).toBe(8);
    expect(write('current_tracer', 'function')).toBe(8);
    lines = read('enabled_functions').split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]!.slice('cmdline_proc_show (1) R I       '.length)).toMatch(tramp);
    expect(lines.slice(1)).toEqual(['seq_puts (2) R I       ', '']);
    expect(write('current_tracer', 'nop')).toBe(3);
    expect(ftrace.unregisterFtraceFunction(ops)).toBe(0);
    expect(read('enabled_functions')).toBe('');
  });

  it('trace: the header, then `comm-pid [cpu] ..... secs.usecs: func <-parent` per call; a write clears it', () => {
    const { k, tracefs } = fk;
    expect(write('set_ftrace_filter', 'cmdline_proc_show seq_putc')).toBe(26);
    expect(write('current_tracer', 'function')).toBe(8);
    expect(catProc(k, '/proc/cmdline').status).toBeGreaterThan(0n);
    k.machine.runFor(120_000_000n);
    const out = read('trace').split('\n');
    expect(write('current_tracer', 'nop')).toBe(3);
    expect(out.pop()).toBe('');
    const entries = tracefs.entries();
    expect(entries.length).toBeGreaterThanOrEqual(4);
    expect(out.slice(0, 4)).toEqual(['# tracer: function', '#', `# entries-in-buffer/entries-written: ${entries.length}/${entries.length}   #P:2`, '#']);
    expect(out[10]).toBe('#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION');
    expect(out[11]).toBe('#              | |         |   |||||     |         |');
    const body = out.slice(12);
    expect(body).toHaveLength(entries.length);
    body.forEach((l, i) => {
      const m = ENTRY.exec(l);
      expect(m, l).not.toBeNull();
      const e = entries[i]!;
      expect(m!.slice(1, 4)).toEqual([e.comm, String(e.pid), String(e.cpu).padStart(3, '0')]);
      expect(BigInt(m![4]!) * 1_000_000n + BigInt(m![5]!)).toBe(e.ts / 1000n);
      expect(m![6]).toBe(k.kallsyms.find(e.ip)!.name);
      expect(['cmdline_proc_show', 'seq_putc']).toContain(m![6]);
      if (m![6] === 'seq_putc') expect(m![7]).toBe('cmdline_proc_show');
    });
    expect(body.some((l) => l.includes('klpsh-') && l.endsWith(': cmdline_proc_show <-__x64_sys_open'))).toBe(true);
    expect(body.some((l) => l.includes('cat_cmdline-'))).toBe(true);
    write('trace', '');
    expect(tracefs.entries()).toEqual([]);
    expect(read('trace').split('\n')[2]).toBe('# entries-in-buffer/entries-written: 0/0   #P:2');
  });

  // Linux's tracing_write_stub returns the count, like every other tracefs file here.
  it('`echo > trace` consumes its byte (write returns 1)', () => {
    expect(write('trace', '\n')).toBe(1);
  });
});
