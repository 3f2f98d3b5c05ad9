// breakpoints.spec.ts - break/tbreak/delete/disable/enable/condition/ignore/info breakpoints and watch on a booted machine

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootSession, hx, symAddr, type Session } from './debugKit.ts';

describe('[debugger/breakpoints]: code breakpoints stop a vCPU before the instruction', () => {
  let s: Session;
  beforeAll(() => {
    s = bootSession();
  });
  afterAll(() => s.close());

  it('break SYM: prints the address; the hit stops the vCPU with RIP at the symbol and switches to it', async () => {
    const addr = symAddr(s, 'cmdline_proc_show');
    expect(await s.ok('break cmdline_proc_show')).toBe(`Breakpoint 1 at ${hx(addr)}: cmdline_proc_show+0x0/0x43.\n`);
    const text = await s.ok('cat /proc/cmdline');
    expect(text).toContain('Breakpoint 1, cmdline_proc_show+0x0/0x43 on cpu 1 (pid 6 klpsh)');
    expect(text).toContain(`=> ${hx(addr)} <cmdline_proc_show+0>:\tnop dword ptr [rax + rax]\t<- ftrace site (nop)`);
    expect(text).toContain('[cat /proc/cmdline: still running in the guest; "continue" finishes it]');
    expect(s.d.cpu).toBe(1);
    expect(s.d.reg('rip', 1)).toBe(addr);
    expect(s.d.bps.get(1)!.hits).toBe(1);
    expect(s.d.job?.done()).toBe(false);
  });

  it('continue steps over the reported breakpoint and finishes the guest cat', async () => {
    const text = await s.ok('continue');
    expect(text).toBe('Continuing.\nBOOT_IMAGE=/boot/vmlinuz-6.6.0-klpemu root=/dev/vda ro console=ttyS0\n[cat /proc/cmdline: done, status 69]\n');
    expect(s.d.job).toBeUndefined();
    expect(s.d.bps.get(1)!.hits).toBe(1);
  });

  it('info breakpoints lists number, type, disposition, enabled, address, what and the hit count', async () => {
    expect(await s.ok('info breakpoints')).toBe(
      'Num  Type        Disp  Enb  Address             What\n' +
      `1    breakpoint  keep  y    ${hx(symAddr(s, 'cmdline_proc_show'))}  cmdline_proc_show+0x0/0x43\n` +
      '\tbreakpoint already hit 1 time\n',
    );
  });

  it('disable keeps it listed but it no longer stops; enable restores it; delete removes it', async () => {
    await s.ok('disable 1');
    expect(s.d.bps.get(1)!.enabled).toBe(false);
    expect(await s.ok('cat /proc/cmdline')).toContain('[cat /proc/cmdline: done, status 69]');
    expect(s.d.bps.get(1)!.hits).toBe(1);
    await s.ok('enable 1');
    expect(await s.ok('cat /proc/cmdline')).toContain('Breakpoint 1, cmdline_proc_show');
    await s.ok('delete 1');
    expect(s.d.bps.visible()).toEqual([]);
    expect(await s.ok('continue')).toContain('[cat /proc/cmdline: done, status 69]');
    expect(await s.ok('info breakpoints')).toBe('No breakpoints or watchpoints.\n');
  });

  it('break ... if COND stops only where the condition holds; ignore counts crossings', async () => {
    const text = await s.ok('break schedule if $cpu == 1 && $pid != 0');
    expect(text).toMatch(/^Breakpoint 2 at 0x[0-9a-f]+: schedule\+0x0\/0xd\. \(if \$cpu == 1 && \$pid != 0\)\n$/);
    const hit = await s.ok('continue');
    expect(hit).toMatch(/Breakpoint 2, schedule\+0x0\/0xd on cpu 1 \(pid [1-9]\d* /);
    expect(s.d.cpu).toBe(1);
    expect(s.d.reg('rip', 1)).toBe(symAddr(s, 'schedule'));
    expect(await s.ok('ignore 2 2')).toBe('Will ignore next 2 crossings of breakpoint 2.\n');
    const hits = s.d.bps.get(2)!.hits;
    await s.ok('continue');
    expect(s.d.bps.get(2)!.hits).toBe(hits + 3);
    expect(s.d.bps.get(2)!.ignore).toBe(0);
    expect(await s.ok('condition 2')).toBe('Breakpoint 2 now unconditional.\n');
    await s.ok('delete');
  });

  it('a condition that cannot be evaluated stops with the error', async () => {
    await s.ok('break schedule if *0 == 1');
    const text = await s.ok('continue');
    expect(text).toContain('Error in testing condition for breakpoint 3: Cannot access memory at address 0x0');
    expect(text).toContain('Breakpoint 3, schedule+0x0/0xd');
    await s.ok('delete 3');
  });

  it('tbreak stops once and deletes itself', async () => {
    expect(await s.ok('tbreak *cmdline_proc_show+5')).toMatch(/^Temporary breakpoint 4 at 0x[0-9a-f]+: cmdline_proc_show\+0x5\/0x43\.\n$/);
    const text = await s.ok('cat /proc/cmdline');
    expect(text).toContain('Temporary breakpoint 4, cmdline_proc_show+0x5/0x43');
    expect(s.d.reg('rip')).toBe(symAddr(s, 'cmdline_proc_show') + 5n);
    expect(s.d.bps.visible()).toEqual([]);
    await s.ok('continue');
  });

  it('rejects bad locations and ids without touching the machine', async () => {
    const rip = s.d.reg('rip');
    expect(await s.fails('break no_such_function')).toBe('No symbol "no_such_function" in current context.\n');
    expect(await s.fails('break *0x10')).toBe('Cannot access memory at address 0x10\n');
    expect(await s.fails('delete 99')).toBe('No breakpoint number 99.\n');
    expect(await s.fails('break schedule if (')).toContain('expression');
    expect(await s.fails('watch cmdline_proc_show 0')).toBe('watch: LEN must be 1..4096 bytes, got 0\n');
    expect(await s.fails('watch cmdline_proc_show 5000')).toBe('watch: LEN must be 1..4096 bytes, got 5000\n');
    expect(s.d.reg('rip')).toBe(rip);
    expect(s.d.bps.list).toEqual([]);
    expect(s.d.wps.list).toEqual([]);
  });
});

describe('[debugger/watch]: watchpoints stop after a store that changes the range; host text pokes are reported', () => {
  let s: Session;
  beforeAll(() => {
    s = bootSession();
  });
  afterAll(() => s.close());

  it('watch a data symbol: stops right after the store, old and new value, the store ran exactly once', async () => {
    const at = symAddr(s, 'watchdog_count');
    expect(await s.ok('watch watchdog_count')).toBe(`Hardware watchpoint 1: watchdog_count (8 bytes at ${hx(at)})\n`);
    const text = await s.ok('continue');
    expect(text).toContain('Hardware watchpoint 1: watchdog_count\n\nOld value = 0x0\nNew value = 0x1\n');
    expect(text).toMatch(/by cpu 0 \(pid 3 khungtaskd\) at 0x[0-9a-f]+ <watchdog\+19>/);
    expect(s.d.kernel.kallsyms.symbolize(s.d.reg('rip'))).toBe('watchdog+0x1a/0x1e');
    expect(s.d.machine.mem.readU64(at)).toBe(1n);
    // resuming must not re-execute the store (Unicorn leaves RIP on it when stopped inside a write hook)
    const again = await s.ok('continue');
    expect(again).toContain('Old value = 0x1\nNew value = 0x2\n');
    expect(s.d.machine.mem.readU64(at)).toBe(2n);
  });

  it('watch over text: insmod of a livepatch reports the nop becoming a call, pokes lists it with its phases', async () => {
    await s.ok('delete');
    await s.ok('watch cmdline_proc_show 5');
    const text = await s.ok('insmod livepatch-sample.ko');
    expect(text).toContain("livepatch: enabling patch 'livepatch_sample'");
    expect(text).toContain('Watchpoint 2: cmdline_proc_show: text_poke_bp by host (guest call) at');
    expect(text).toContain('  before: 0f 1f 44 00 00  nop dword ptr [rax + rax]\n');
    expect(text).toMatch(/ {2}after: {2}e8 [0-9a-f ]{11} {2}call 0x[0-9a-f]+ <ftrace_trampoline\+0 \[__builtin__ftrace\]>\n/);
    expect(s.d.machine.mem.read(symAddr(s, 'cmdline_proc_show'), 1)[0]).toBe(0xe8);
    const pokes = await s.ok('pokes -v');
    expect(pokes).toMatch(/^#1 \d+\.\d{6} s by host \(guest call\) at 0x[0-9a-f]+ <cmdline_proc_show\+0>\n/);
    expect(pokes).toContain('    after sync 1: cc 1f 44 00 00\n');
    expect(pokes).toMatch(/after sync 3: e8 /);
    expect(s.d.pokes!.records).toHaveLength(1);
    expect(s.d.wps.get(2)!.hits).toBe(1);
  });
});
