// stepping.spec.ts - stepi/nexti/finish/until and the state commands (registers, x, print, disassemble, bt, cpu, ps)

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootSession, hx, symAddr, type Session } from './debugKit.ts';

describe('[debugger/stepping]: execution commands on the vCPU stopped in cmdline_proc_show', () => {
  let s: Session;
  let show: bigint;
  beforeAll(async () => {
    s = bootSession();
    show = symAddr(s, 'cmdline_proc_show');
    await s.ok('break cmdline_proc_show');
    await s.ok('cat /proc/cmdline');
    await s.ok('delete');
  });
  afterAll(() => s.close());

  it('stepi executes the 5-byte entry nop: RIP +5, the push rbp is next, RSP unchanged', async () => {
    const rsp = s.d.reg('rsp');
    expect(s.d.reg('rip')).toBe(show);
    expect(await s.ok('stepi')).toBe(`=> ${hx(show + 5n)} <cmdline_proc_show+5>:\tpush rbp\n`);
    expect(s.d.reg('rip')).toBe(show + 5n);
    expect(s.d.reg('rsp')).toBe(rsp);
  });

  it('si 2 executes push rbp and mov rbp, rsp (RSP -8, RBP = RSP)', async () => {
    const rsp = s.d.reg('rsp');
    expect(await s.ok('si 2')).toBe(`=> ${hx(show + 9n)} <cmdline_proc_show+9>:\tpush rbx\n`);
    expect(s.d.reg('rsp')).toBe(rsp - 8n);
    expect(s.d.reg('rbp')).toBe(rsp - 8n);
  });

  it('info registers / regs: gdb columns, rip symbolized, eflags decoded', async () => {
    const one = await s.ok('info registers rip');
    expect(one).toBe(`rip            ${hx(show + 9n)} ${hx(show + 9n)} <cmdline_proc_show+9>\n`);
    const all = await s.ok('regs');
    expect(all.split('\n').filter(Boolean)).toHaveLength(31);
    expect(all).toMatch(/^eflags {9}0x[0-9a-f]+ +\[ [A-Z ]*IF[A-Z ]* \]$/m);
    expect(all).toContain(`rsp            ${hx(s.d.reg('rsp'))}`);
    expect(await s.fails('info registers xyz')).toBe("Invalid register `xyz'\n");
  });

  it('x/FMT: bytes, giant words, strings and instructions from guest memory', async () => {
    expect(await s.ok('x/8xb cmdline_proc_show')).toBe(`${hx(show)} <cmdline_proc_show+0>:\t0x0f\t0x1f\t0x44\t0x00\t0x00\t0x55\t0x48\t0x89\n`);
    const rsp = s.d.reg('rsp');
    const q0 = s.d.machine.mem.readU64(rsp);
    const q1 = s.d.machine.mem.readU64(rsp + 8n);
    expect(await s.ok('x/2gx $rsp')).toBe(`${hx(rsp)}:\t0x${q0.toString(16).padStart(16, '0')}\t0x${q1.toString(16).padStart(16, '0')}\n`);
    expect(await s.ok('x/s saved_command_line')).toMatch(/<saved_command_line\+0>:\t"BOOT_IMAGE=\/boot\/vmlinuz-6\.6\.0-klpemu root=\/dev\/vda ro console=ttyS0"\n$/);
    expect(await s.ok('x/2i $pc')).toBe(`=> ${hx(show + 9n)} <cmdline_proc_show+9>:\tpush rbx\n   ${hx(show + 10n)} <cmdline_proc_show+10>:\tpush r12\n`);
    expect(await s.ok('x')).toBe(`   ${hx(show + 12n)} <cmdline_proc_show+12>:\tmov rbx, rdi\n`);
    expect(await s.fails('x/4q 0')).toBe('Undefined output format "q".\n');
  });

  it('print evaluates registers, symbols, arithmetic, deref and strings', async () => {
    expect(await s.ok('print $pc')).toBe(`$1 = ${hx(show + 9n)} <cmdline_proc_show+9>\n`);
    expect(await s.ok('p/x cmdline_proc_show + 0x10')).toBe(`$2 = ${hx(show + 16n)}\n`);
    expect(await s.ok('p 6 * 7 == 42')).toBe('$3 = 1\n');
    expect(await s.ok('p/x *$rsp')).toBe(`$4 = ${hx(s.d.machine.mem.readU64(s.d.reg('rsp')))}\n`);
    expect(await s.ok('p $comm')).toBe(`$5 = "klpsh"\n`);
  });

  it('disassemble: the function, symbolized call targets and RIP-relative data, the ftrace site, the => marker', async () => {
    const text = await s.ok('disassemble');
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('Dump of assembler code for function cmdline_proc_show:');
    expect(lines[1]).toBe(`   ${hx(show)} <cmdline_proc_show+0>:\tnop dword ptr [rax + rax]\t<- ftrace site (nop)`);
    expect(lines).toContain(`=> ${hx(show + 9n)} <cmdline_proc_show+9>:\tpush rbx`);
    expect(text).toMatch(/call 0x[0-9a-f]+ <seq_puts\+0>/);
    expect(text).toMatch(/\[rip \+ 0x[0-9a-f]+\]\t# 0x[0-9a-f]+ <cmdline_proc_delay_ms\+0>/);
    expect(lines.at(-1)).toBe('End of assembler dump.');
    expect(await s.ok('disas/r msleep_interruptible')).toMatch(/<msleep_interruptible\+0>:\t0f 1f 44 00 00 +\tnop/);
  });

  it('info symbol and bt of the running task (reliable, innermost first)', async () => {
    expect(await s.ok('info symbol $pc')).toBe('cmdline_proc_show + 9 in section .text\n');
    expect(await s.ok('info symbol 0x10')).toBe('No symbol matches 0x10.\n');
    const bt = (await s.ok('bt')).split('\n');
    expect(bt[0]).toBe('cpu 1, pid 6 klpsh (running; frozen by the debugger):');
    expect(bt[1]).toBe(`#0  ${hx(show + 9n)} in cmdline_proc_show+0x9/0x43`);
    expect(bt.slice(2, 5).map((l) => l.replace(/^#\d\s+0x[0-9a-f]+ in /, '').replace(/\+.*/, ''))).toEqual(['__x64_sys_open', 'do_syscall_64', 'entry_SYSCALL_64']);
    expect(bt).toContain('stack: reliable (ends at the end-of-stack frame)');
  });

  it('nexti runs a call to its return; finish runs to the caller and prints $rax', async () => {
    await s.ok('until *cmdline_proc_show+42');
    expect(s.d.reg('rip')).toBe(show + 42n);
    const rsp = s.d.reg('rsp');
    expect(await s.ok('nexti')).toBe(`=> ${hx(show + 47n)} <cmdline_proc_show+47>:\tmov rdi, rbx\n`);
    expect(s.d.reg('rsp')).toBe(rsp);
    const fin = await s.ok('finish');
    expect(fin).toMatch(new RegExp(`^Run till exit from #0  ${hx(show + 47n)} <cmdline_proc_show\\+47>\\n=> 0x[0-9a-f]+ <[a-z_0-9]+\\+\\d+>:\\t.*\\nBOOT_IMAGE=|Value returned is \\$rax = 0x0\\n`));
    expect(fin).toContain('Value returned is $rax = 0x0');
    expect(s.d.kernel.kallsyms.find(s.d.reg('rip'))!.name).not.toBe('cmdline_proc_show');
  });

  it('cpu N switches the vCPU commands act on; info cpus and ps show every vCPU and task', async () => {
    expect(await s.ok('cpu 0')).toMatch(/^\[Switching to cpu 0 \(pid \d+ [\w/:]+\)\]\n=> 0x/);
    expect(s.d.cpu).toBe(0);
    expect(await s.fails('cpu 7')).toBe('Invalid cpu 7 (the machine has 2)\n');
    const cpus = (await s.ok('info cpus')).split('\n');
    expect(cpus[0]).toMatch(/^ +CPU +State +IF +Pending +Time +RIP +Task$/);
    expect(cpus[1]).toMatch(/^\* +0 +(halted|runnable) /);
    expect(cpus[2]).toMatch(/^ +1 +(halted|runnable) /);
    const ps = await s.ok('ps');
    expect(ps.split('\n')[0]).toMatch(/^ +PID +COMM +STATE +CPU +PATCH_STATE +TIF_PATCH_PENDING$/);
    for (const t of [...s.d.kernel.idleTasks(), ...s.d.kernel.tasks()]) expect(ps).toMatch(new RegExp(`\\b${t.pid} +${t.comm.replace('/', '\\/')} +[RSDX] +${t.cpu} +-1 \\(idle\\) +0\\n`));
  });

  it('bt PID of a sleeping task walks its switched-out stack as livepatch does', async () => {
    const t = s.d.kernel.tasks().find((x) => x.comm === 'cat_cmdline')!;
    const bt = await s.ok(`bt ${t.pid}`);
    expect(bt).toContain(`pid ${t.pid} cat_cmdline (S, switched out, last on cpu`);
    expect(bt).toMatch(/#0 +0x[0-9a-f]+ in __schedule\+/);
    expect(bt).toContain('stack: reliable (ends at the end-of-stack frame)');
    expect(s.d.kernel.stackTraceReliable(t).ok).toBe(true);
    expect(await s.fails('bt 4242')).toBe('No task with pid 4242.\n');
  });
});
