// session.spec.ts - help, errors that never crash, completion, snapshots, the shell, kernel views (klp, ps through a transition)

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootSession, builtImage, hx, sessionOf, symAddr, type Session } from './debugKit.ts';
import { bootKernel } from '../../src/kernel/boot.ts';
import { targetOfKernel } from '../../src/debugger/target.ts';
import { complete } from '../../src/debugger/complete.ts';
import { ALL_COMMANDS } from '../../src/debugger/commands/index.ts';

describe('[debugger/session]: command table, help, and input that must not hurt the session', () => {
  let s: Session;
  beforeAll(() => {
    s = bootSession();
  });
  afterAll(() => s.close());

  it('help lists every command by category; help CMD shows usage and aliases; prefixes and aliases resolve', async () => {
    const idx = await s.ok('help');
    for (const c of ALL_COMMANDS) expect(idx).toContain(`  ${[c.name, ...(c.aliases ?? [])].join(', ')}`);
    expect(await s.ok('help si')).toMatch(/^usage: stepi \[N\]\nExecute N instructions on the current cpu.*\naliases: si\n/);
    expect(await s.ok('help info registers')).toMatch(/^usage: info registers \[REG\.\.\.\]\n/);
    expect(await s.ok('disas msleep_interruptible')).toContain('Dump of assembler code for function msleep_interruptible:');
    expect(await s.fails('di')).toBe('Ambiguous command "di": disable, disassemble.\n');
    expect(await s.fails('frobnicate')).toBe('Undefined command: "frobnicate".  Try "help".\n');
    expect(await s.fails('info nothing')).toBe('Undefined info command: "nothing".  Try "help".\n');
  });

  it('garbage input fails cleanly and leaves registers, memory and time untouched', async () => {
    const m = s.d.machine;
    const before = { rips: m.vcpus.map((v) => v.engine.regRead('rip')), now: m.nowNs, text: m.mem.read(symAddr(s, 'cmdline_proc_show'), 64) };
    const bad = [
      'x/', 'x/4gx', 'x/4gx 0', 'x/qq $pc', 'p (', 'p 1/0', 'p $nosuchreg', 'p *0', 'b *', 'tbreak (((', 'watch', 'watch 0 0',
      'watch *0x10 8', 'cpu x', 'cpu 99', 'bt x', 'bt 99999', 'restore nope', 'snapshot', 'snapshot a/b', 'disas 0,1', 'disas 5,1', 'info symbol',
      'until no_such_sym', 'wait', 'wait 5 lightyears', 'continue x', 'stepi -1', 'ignore', 'condition', 'condition 77 1', 'delete x',
      'cat', 'cat /no/such/file', 'echo 1 > /sys/kernel/livepatch/nope/enabled', 'rmmod nope', 'insmod /no/such.ko', 'source /no/such/file',
      'set', 'set continue-limit soon', 'sh', 'sh frob', 'dmesg -1', '\u0000\u0001', '"', '$$$', 'x/4gx $rsp +', 'p "unterminated',
    ];
    for (const line of bad) {
      const r = await s.run(line);
      expect(r.ok, `${line} -> ${r.text}`).toBe(false);
      expect(r.text.length, line).toBeGreaterThan(0);
    }
    expect(m.vcpus.map((v) => v.engine.regRead('rip'))).toEqual(before.rips);
    expect(m.nowNs).toBe(before.now);
    expect(m.mem.read(symAddr(s, 'cmdline_proc_show'), 64).equals(before.text)).toBe(true);
    expect(await s.ok('p 1 + 1')).toBe('$1 = 2\n');
  });

  it('tab completion: command names, symbol prefixes (also after *), info subcommands, machine paths', () => {
    expect(complete(s.d, 'disa')).toEqual([['disa', 'disable', 'disas', 'disassemble'], 'disa']);
    expect(complete(s.d, 'b cmdline_pr')).toEqual([['cmdline_proc_delay_ms', 'cmdline_proc_show'], 'cmdline_pr']);
    expect(complete(s.d, 'break *msleep_int')).toEqual([['*msleep_interruptible'], '*msleep_int']);
    expect(complete(s.d, 'info re')).toEqual([['reg', 'registers'], 're']);
    expect(complete(s.d, 'cat /proc/cm')).toEqual([['/proc/cmdline'], '/proc/cm']);
    expect(complete(s.d, 'cat /sys/kernel/tracing/enabled_')).toEqual([['/sys/kernel/tracing/enabled_functions'], '/sys/kernel/tracing/enabled_']);
    expect(complete(s.d, 'nosuch arg')).toEqual([[], '']);
  });

  it('snapshot/restore: registers, memory and guest time come back; breakpoints stay', async () => {
    await s.ok('break cmdline_proc_show');
    await s.ok('cat /proc/cmdline');
    const m = s.d.machine;
    const rip = s.d.reg('rip');
    expect(await s.ok('snapshot here')).toMatch(/^Snapshot 'here' taken at guest time \d+\.\d{6} s\.\n$/);
    const now = m.nowNs;
    const counter = m.mem.readU64(symAddr(s, 'watchdog_count'));
    await s.ok('delete');
    await s.ok('wait 300ms');
    expect(m.mem.readU64(symAddr(s, 'watchdog_count'))).toBeGreaterThan(counter);
    await s.ok('tbreak schedule');
    const text = await s.ok('restore here');
    expect(text).toContain("Restored 'here'");
    expect(text).toContain('[cat /proc/cmdline in flight again]');
    expect(m.nowNs).toBe(now);
    expect(s.d.reg('rip')).toBe(rip);
    expect(m.mem.readU64(symAddr(s, 'watchdog_count'))).toBe(counter);
    expect(s.d.bps.visible().map((b) => b.addr)).toEqual([symAddr(s, 'schedule')]);
    await s.ok('delete');
    expect(await s.ok('continue')).toContain('[cat /proc/cmdline: done, status 69]');
    expect(await s.ok('info snapshots')).toBe('here\n');
  });
});

describe('[debugger/kernel]: shell and kernel views through a livepatch transition', () => {
  let s: Session;
  beforeAll(() => {
    s = bootSession();
  });
  afterAll(() => s.close());

  it('cat of host-served files, echo, dmesg, ftrace', async () => {
    expect(await s.ok('cat /sys/kernel/tracing/current_tracer')).toBe('nop\n');
    expect(await s.ok('echo function > /sys/kernel/tracing/current_tracer')).toBe('');
    expect(s.sys.tracefs.currentTracer).toBe('function');
    const ft = await s.ok('ftrace');
    expect(ft).toMatch(/^\d+ ftrace sites, \d+ in use; ftrace_enabled=1, tracer=function\n/);
    expect(ft).toMatch(/^cmdline_proc_show \(1\)/m);
    await s.ok('echo nop > /sys/kernel/tracing/current_tracer');
    expect(await s.ok('dmesg 1')).toBe(`${s.d.kernel.dmesg().at(-1)}\n`);
    expect(await s.fails('echo 1 > /sys/kernel/tracing/nope')).toMatch(/^sh: \/sys\/kernel\/tracing\/nope: /);
  });

  it('insmod: klp and ps show the transition, the blocking tasks and TIF_PATCH_PENDING; it completes with time', async () => {
    const ins = await s.ok('insmod livepatch-sample');
    expect(ins).toContain("livepatch: 'livepatch_sample': starting patching transition");
    const klp = await s.ok('klp');
    expect(klp).toContain('patch livepatch_sample: enabled=1 replace=0 (in transition)');
    expect(klp).toMatch(/func cmdline_proc_show,1: 0x[0-9a-f]+ <cmdline_proc_show\+0> -> 0x[0-9a-f]+ <livepatch_cmdline_proc_show\+0 \[livepatch_sample\]> patched=1 transition=1/);
    expect(klp).toMatch(/transition: 'livepatch_sample' -> patched: \d+\/\d+ tasks switched/);
    const ps = await s.ok('ps');
    const pending = [...s.d.kernel.idleTasks(), ...s.d.kernel.tasks()].filter((t) => t.patchState === 0);
    expect(pending.length).toBeGreaterThan(0);
    for (const t of pending) expect(ps).toMatch(new RegExp(` ${t.pid} +${t.comm.replace('/', '\\/')} +[RSDX] +\\d +0 \\(unpatched\\) +1\\n`));
    expect(await s.ok('lsmod')).toMatch(/^Module +Size +Used by\nlivepatch_sample +\d+ +1\n$/);
    await s.ok('wait 1500ms');
    expect(await s.ok('klp')).toMatch(/patched=1 transition=0\ntransition: none\n$/);
    expect(await s.ok('ps')).not.toMatch(/\(unpatched\)/);
    expect(await s.ok('cat /proc/cmdline')).toContain('this has been live patched');
  });

  it('disassemble shows the site patched into a call; echo 0 and rmmod undo it; restore refuses a changed host state', async () => {
    expect(await s.ok('disassemble cmdline_proc_show')).toMatch(/<cmdline_proc_show\+0>:\tcall 0x[0-9a-f]+ <ftrace_trampoline\+0 \[__builtin__ftrace\]>\t<- ftrace site \(patched, 1 ops\)/);
    await s.ok('snapshot patched');
    await s.ok('echo 0 > /sys/kernel/livepatch/livepatch_sample/enabled');
    await s.ok('wait 1500ms');
    await s.ok('rmmod livepatch_sample');
    expect(await s.ok('x/5xb cmdline_proc_show')).toBe(`${hx(symAddr(s, 'cmdline_proc_show'))} <cmdline_proc_show+0>:\t0x0f\t0x1f\t0x44\t0x00\t0x00\n`);
    const refused = await s.fails('restore patched');
    expect(refused).toContain("cannot restore 'patched': host-side kernel state changed since it was taken:");
    expect(refused).toContain('modules: livepatch_sample -> (none)');
    expect(s.d.machine.mem.read(symAddr(s, 'cmdline_proc_show'), 1)[0]).toBe(0x0f);
  });
});

describe('[debugger/bare]: a kernel without module loader, ftrace or livepatch', () => {
  it('insmod/rmmod/lsmod/klp/pokes/ftrace say what is missing; the rest works', async () => {
    const k = bootKernel({ cpus: 1, seed: 2, image: builtImage() });
    const s = sessionOf(targetOfKernel(k));
    try {
      expect(await s.fails('insmod livepatch-sample.ko')).toBe('insmod: module loader not available (this target has no module loader)\n');
      expect(await s.fails('rmmod x')).toBe('rmmod: module loader not available (this target has no module loader)\n');
      expect(await s.fails('lsmod')).toBe('lsmod: module loader not available on this target\n');
      expect(await s.fails('klp')).toBe('klp: livepatch is not attached to this target\n');
      expect(await s.fails('pokes')).toBe('pokes: ftrace (the text poker) is not attached to this target\n');
      await s.ok('break cmdline_proc_show');
      expect(await s.ok('cat /proc/cmdline')).toContain('Breakpoint 1, cmdline_proc_show+0x0/0x43 on cpu 0');
      await s.ok('delete');
      expect(await s.ok('continue')).toContain('[cat /proc/cmdline: done, status 69]');
    } finally {
      s.close();
    }
  });
});
