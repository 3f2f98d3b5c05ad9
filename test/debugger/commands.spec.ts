// commands.spec.ts - the commands the other specs leave out: continue N, Ctrl-C (interrupt), until SYM,
// x's other formats, gdb's aliases, source, bt of an unreliable stack and klp's blocking tasks

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootSession, hx, symAddr, type Session } from './debugKit.ts';
import { forgeSleeperStack } from '../helpers/klpHarness.ts';
import { MAX_SOURCE_DEPTH } from '../../src/debugger/commands/session.ts';
import { KlpState } from '../../src/abi/layout.ts';

describe('[debugger/commands]: running, examining and scripting on a booted machine', () => {
  let s: Session;
  let dir: string;
  beforeAll(() => {
    s = bootSession();
    dir = mkdtempSync(join(tmpdir(), 'klpemu-dbg-'));
  });
  afterAll(() => {
    s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('continue N ignores the breakpoint just hit N-1 more times (gdb\'s continue N)', async () => {
    expect(await s.ok('break schedule')).toMatch(/^Breakpoint 1 at /);
    expect(await s.ok('c')).toMatch(/\nBreakpoint 1, schedule\+0x0\/0xd on cpu \d /);
    const hits = s.d.bps.get(1)!.hits;
    const text = await s.ok('c 3');
    expect(text).toMatch(/^Will ignore next 2 crossings of breakpoint 1\.  Continuing\.\n\nBreakpoint 1, schedule\+0x0\/0xd/);
    expect(s.d.bps.get(1)!.hits).toBe(hits + 3);
    expect(s.d.reg('rip')).toBe(symAddr(s, 'schedule'));
    expect(await s.fails('c two')).toBe("continue: expected a number, got 'two'\n");
    await s.ok('delete');
  });

  it('an interrupt (Ctrl-C) stops a continue that has nothing to stop it; the machine stays usable', async () => {
    expect(await s.ok('set continue-limit off')).toBe('continue-limit is off.\n');
    const t0 = s.d.machine.nowNs;
    setTimeout(() => s.d.runner.interrupt(), 300);
    const text = await s.ok('continue');
    expect(text).toMatch(/^Continuing\.\n\nProgram received signal SIGINT, Interrupt\. \[cpu \d \(pid \d+ [\w/:]+\)\]\n=> 0x[0-9a-f]+ <\w+\+\d+>:\t/);
    expect(s.d.machine.nowNs).toBeGreaterThan(t0);
    expect(s.d.runner.running).toBe(false);
    await s.ok('set continue-limit 3s');
    // after the interrupt the machine still runs guest work to completion
    expect(await s.ok('cat /proc/cmdline')).toContain('[cat /proc/cmdline: done, status 69]');
  });

  it('stepi N and nexti N are interruptible too (one counting run; short runs still yield to the event loop)', async () => {
    await s.ok('set continue-limit off');
    const t0 = s.d.machine.nowNs;
    setTimeout(() => s.d.runner.interrupt(), 300);
    const si = await s.ok('stepi 1000000000');
    expect(si).toMatch(/^\nProgram received signal SIGINT, Interrupt\. \[cpu \d /);
    expect(s.d.machine.nowNs).toBeGreaterThan(t0);
    setTimeout(() => s.d.runner.interrupt(), 300);
    expect(await s.ok('nexti 1000000000')).toMatch(/^\nProgram received signal SIGINT, Interrupt\./);
    // the next command starts with the interrupt forgotten
    expect(await s.ok('si 2')).toMatch(/^=> 0x[0-9a-f]+ </);

    // Ctrl-C during a sourced script ends the script after the command it interrupted
    const script = join(dir, 'long.gdb');
    writeFileSync(script, 'wait 100s\np 12345\n');
    setTimeout(() => s.d.runner.interrupt(), 300);
    const src = await s.fails(`source ${script}`);
    expect(src).toContain('Program received signal SIGINT, Interrupt.');
    expect(src).toContain(`source: ${script}:1: interrupted: wait 100s\n`);
    expect(src).not.toContain('12345');
    await s.ok('set continue-limit 3s');
  });

  it('until SYM runs to a location in a called function; x/a, x/d, x/u, x/c, x/t, x/o on what it sees', async () => {
    await s.ok('tbreak cmdline_proc_show');
    await s.ok('cat /proc/cmdline');
    const rsp = s.d.reg('rsp');
    const ret = s.d.machine.mem.readU64(rsp);
    // at the entry the return address is on top of the stack: x/a symbolizes it
    expect(await s.ok('x/a $sp')).toBe(`${hx(rsp)}:\t${hx(ret)} <${s.d.kernel.kallsyms.find(ret)!.name}+${ret - s.d.kernel.kallsyms.find(ret)!.addr}>\n`);
    expect(s.d.kernel.kallsyms.find(ret)!.name).toBe('__x64_sys_open');
    const line = symAddr(s, 'saved_command_line');
    expect(await s.ok('x/2c saved_command_line')).toBe(`${hx(line)} <saved_command_line+0>:\t66 'B'\t79 'O'\n`);
    expect(await s.ok('x/2ub saved_command_line')).toBe(`${hx(line)} <saved_command_line+0>:\t66\t79\n`);
    expect(await s.ok('x/tb saved_command_line')).toBe(`${hx(line)} <saved_command_line+0>:\t01000010\n`);
    expect(await s.ok('x/ob saved_command_line')).toBe(`${hx(line)} <saved_command_line+0>:\t0102\n`);
    // 0f 1f 44 00 = 0x00441f0f as a little-endian word; its signed and unsigned decimal are equal
    expect(await s.ok('x/dw cmdline_proc_show')).toBe(`${hx(symAddr(s, 'cmdline_proc_show'))} <cmdline_proc_show+0>:\t${0x00441f0f}\n`);
    expect(await s.ok('x/dh cmdline_proc_show+4')).toBe(`${hx(symAddr(s, 'cmdline_proc_show') + 4n)} <cmdline_proc_show+4>:\t${0x5500}\n`);
    expect(await s.fails('x/70000xb saved_command_line')).toBe('x: count 70000 is too large (at most 65536)\n');

    const until = await s.ok('until seq_puts');
    expect(until).toBe(`=> ${hx(symAddr(s, 'seq_puts'))} <seq_puts+0>:\tnop dword ptr [rax + rax]\t<- ftrace site (nop)\n`);
    expect(s.d.reg('rip')).toBe(symAddr(s, 'seq_puts'));
    expect(s.d.reg('rsp')).toBeLessThan(rsp);
    expect((await s.ok('where')).split('\n')[2]).toMatch(/^#1  0x[0-9a-f]+ in cmdline_proc_show\+/);
    expect(await s.ok('continue')).toContain('[cat /proc/cmdline: done, status 69]');
  });

  it("gdb's short forms: i r, i b, info threads, cpu without an argument, h CMD, unique prefixes", async () => {
    expect(await s.ok('i r rip')).toBe(await s.ok('info registers rip'));
    expect(await s.ok('i b')).toBe('No breakpoints or watchpoints.\n');
    expect(await s.ok('info threads')).toBe(await s.ok('info cpus'));
    expect(await s.ok('cpu')).toMatch(/^\[Current cpu is \d \(pid \d+ [\w/:]+\)\]\n$/);
    expect(await s.ok('h bt')).toMatch(/^usage: bt \[PID\]\n.*\naliases: bt, where\n/);
    expect(await s.ok('tb cmdline_proc_show')).toMatch(/^Temporary breakpoint \d+ at /);
    expect(await s.ok('dis')).toBe(''); // gdb's alias of disable: every breakpoint disabled
    expect(s.d.bps.visible().every((b) => !b.enabled)).toBe(true);
    await s.ok('en');
    expect(s.d.bps.visible().every((b) => b.enabled)).toBe(true);
    expect(await s.ok('disas cmdline_proc_show')).toContain('Dump of assembler code for function cmdline_proc_show:');
    await s.ok('d');
    expect(s.d.bps.visible()).toEqual([]);
  });

  it('source FILE runs its commands, echoing each; a failing line stops it and fails the command', async () => {
    const good = join(dir, 'good.gdb');
    writeFileSync(good, '# a comment\nbreak cmdline_proc_show\n\ninfo breakpoints\ndelete\n');
    const text = await s.ok(`source ${good}`);
    expect(text).toMatch(/^\(klpemu\) break cmdline_proc_show\nBreakpoint \d+ at 0x[0-9a-f]+: cmdline_proc_show\+0x0\/0x43\.\n\(klpemu\) info breakpoints\nNum +Type/);
    expect(text).toContain('(klpemu) delete\n');
    expect(s.d.bps.visible()).toEqual([]);

    const bad = join(dir, 'bad.gdb');
    writeFileSync(bad, 'p 1\np nosuchsymbol\np 3\n');
    const n = s.d.values + 1;
    const failed = await s.fails(`source ${bad}`);
    expect(failed).toBe(`(klpemu) p 1\n$${n} = 1\n(klpemu) p nosuchsymbol\nNo symbol "nosuchsymbol" in current context.\nsource: ${bad}:2: command failed: p nosuchsymbol\n`);

    // a file that sources itself ends at the depth limit instead of running forever
    const self = join(dir, 'self.gdb');
    writeFileSync(self, `source ${self}\n`);
    const loop = await s.fails(`source ${self}`);
    expect(loop.split('\n').filter((l) => l === `(klpemu) source ${self}`)).toHaveLength(MAX_SOURCE_DEPTH);
    expect(loop).toContain(`source: ${self}: nested too deeply (more than ${MAX_SOURCE_DEPTH} levels; does it source itself?)`);
  });

  it('sh runs a machine shell line; ftrace all shows every site\'s bytes; dmesg prints the whole log; quit ends a script', async () => {
    expect(await s.ok('sh sysctl kernel.ftrace_enabled')).toBe('kernel.ftrace_enabled = 1\n');
    expect(await s.ok('sh grep BOOT /proc/cmdline')).toBe('BOOT_IMAGE=/boot/vmlinuz-6.6.0-klpemu root=/dev/vda ro console=ttyS0\n');
    const show = symAddr(s, 'cmdline_proc_show');
    const before = await s.ok('ftrace all');
    const n = s.d.target.ftrace!.records.length;
    expect(before.split('\n')).toHaveLength(n + 3); // header, "(no enabled functions)", a line per site, final newline
    expect(before).toContain(`  ${hx(show)} <cmdline_proc_show+0>`.padEnd(58) + ' 0f 1f 44 00 00  nop\n');
    await s.ok('echo cmdline_proc_show > /sys/kernel/tracing/set_ftrace_filter');
    await s.ok('echo function > /sys/kernel/tracing/current_tracer');
    const after = await s.ok('ftrace all');
    expect(after).toMatch(/^\d+ ftrace sites, 1 in use; ftrace_enabled=1, tracer=function\n/);
    const bytes = [...s.d.machine.mem.read(show, 5)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    expect(bytes.startsWith('e8 ')).toBe(true);
    expect(after).toMatch(new RegExp(`<cmdline_proc_show\\+0> +${bytes}  call 0x[0-9a-f]+ <\\w+\\+0`));
    await s.ok('echo nop > /sys/kernel/tracing/current_tracer');
    expect(s.d.machine.mem.read(show, 1)[0]).toBe(0x0f);
    expect(await s.ok('dmesg')).toBe(s.d.kernel.dmesg().join('\n') + '\n');

    const script = join(dir, 'quit.gdb');
    writeFileSync(script, 'p 41\nquit\np 42\n');
    const text = await s.ok(`source ${script}`);
    expect(text).toContain('= 41\n(klpemu) quit\n');
    expect(text).not.toContain('p 42');
    expect(s.d.quitRequested).toBe(true);
    s.d.quitRequested = false;
  });

  it('insmod of a missing file says so (kmod\'s message) and loads nothing; echo to a guest /proc file says why not', async () => {
    expect(await s.fails('insmod /nonexistent.ko')).toBe('insmod: ERROR: could not load module /nonexistent.ko: No such file or directory\n');
    expect(await s.ok('lsmod')).toBe('Module                  Size  Used by\n');
    const text = s.d.machine.mem.read(symAddr(s, 'saved_command_line'), 64);
    expect(await s.fails('echo x > /proc/cmdline')).toBe('echo: /proc/cmdline is served by the guest kernel (read-only here); echo writes sysfs, tracefs and host-served /proc files\n');
    expect(s.d.machine.mem.read(symAddr(s, 'saved_command_line'), 64).equals(text)).toBe(true);
    expect(await s.ok('echo hello')).toBe('hello\n');
  });
});

describe('[debugger/unreliable]: bt marks an unreliable stack and why; klp names the task that blocks', () => {
  let s: Session;
  let restoreStack: () => void;
  beforeAll(async () => {
    s = bootSession({ nrSleepers: 1 });
    await s.ok('wait 100ms');
  });
  afterAll(() => s.close());

  const sleeper = () => s.d.kernel.tasks().find((t) => t.comm === 'ksleeper')!;

  it('bt PID of a sleeping kthread: reliable, then UNRELIABLE with the reason once a return address is forged', async () => {
    const pid = sleeper().pid;
    expect(await s.ok(`bt ${pid}`)).toContain('stack: reliable (ends at the end-of-stack frame)');
    restoreStack = forgeSleeperStack(s.d.kernel);
    const bt = await s.ok(`bt ${pid}`);
    expect(bt).toMatch(new RegExp(`^pid ${pid} ksleeper \\(S, switched out, last on cpu \\d\\):\\n#0 +0x[0-9a-f]+ in __schedule\\+`));
    expect(bt).toMatch(/\nstack: UNRELIABLE - return address is not kernel or module text: return address 0x[0-9a-f]+ at 0x[0-9a-f]+ is not kernel text\n$/);
  });

  it('insmod: klp lists ksleeper as blocking (unreliable-stack) and ps shows it unpatched with TIF_PATCH_PENDING', async () => {
    await s.ok('insmod livepatch-sample.ko');
    await s.ok('wait 1200ms');
    const pid = sleeper().pid;
    const klp = await s.ok('klp');
    expect(klp).toMatch(/transition: 'livepatch_sample' -> patched: \d+\/\d+ tasks switched, \d+ attempts/);
    expect(klp).toContain(`  pending: pid ${pid} ksleeper patch_state=0 (unpatched)\n`);
    expect(klp).toMatch(new RegExp(`  blocked at the last attempt: pid ${pid} ksleeper: unreliable-stack: return address 0x[0-9a-f]+ at 0x[0-9a-f]+ is not kernel text\\n`));
    expect(await s.ok('ps')).toMatch(new RegExp(` ${pid} +ksleeper +S +\\d +0 \\(unpatched\\) +1\\n`));
    expect(sleeper().patchState).toBe(KlpState.UNPATCHED);
  });

  it('negative control: the stack restored, the next attempt switches ksleeper and the transition completes', async () => {
    restoreStack();
    expect(await s.ok(`bt ${sleeper().pid}`)).toContain('stack: reliable');
    await s.ok('wait 1200ms');
    expect(await s.ok('klp')).toMatch(/\ntransition: none\n$/);
    expect(await s.ok('ps')).not.toMatch(/unpatched/);
  });
});
