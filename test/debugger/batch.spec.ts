// batch.spec.ts - scripted sessions: the fixtures and the documented sessions run in-process, and through `klpemu repl --batch` / stdin

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootSession, hx, symAddr, type Session } from './debugKit.ts';
import { runScript } from '../../src/debugger/script.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/debugger/', import.meta.url));
const fixture = (name: string): string[] => readFileSync(FIXTURES + name, 'utf8').split('\n');

/** Run `klpemu repl ARGS` (node + the tsx loader, no npx) with `input` on stdin. */
function cli(args: string[], input = ''): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', 'tools/klpemu.ts', 'repl', ...args], { cwd: ROOT, timeout: 50_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr });
    });
    child.stdin!.end(input);
  });
}

/** The output section of one echoed command: from its prompt line to the next prompt. */
function section(out: string, cmd: string): string {
  const start = out.indexOf(`(klpemu) ${cmd}\n`);
  if (start < 0) throw new Error(`no '${cmd}' in:\n${out}`);
  const body = out.slice(start + cmd.length + 10);
  const end = body.indexOf('(klpemu) ');
  return end < 0 ? body : body.slice(0, end);
}

describe('[debugger/batch]: cmdline-break.gdb - break, step through the entry nop, registers, backtrace', () => {
  let s: Session;
  beforeAll(() => {
    s = bootSession();
  });
  afterAll(() => s.close());

  it('runs every command, echoing each, and leaves the machine where the script left it', async () => {
    const failed = await runScript(s.d, fixture('cmdline-break.gdb'), { echo: true });
    const out = s.out();
    expect(failed, out).toBeUndefined();
    const show = symAddr(s, 'cmdline_proc_show');
    const hit = section(out, 'cat /proc/cmdline');
    expect(hit).toContain('Breakpoint 1, cmdline_proc_show+0x0/0x43 on cpu 1 (pid 6 klpsh)');
    // stopped at the breakpoint: RIP is the symbol's address, the next instruction is the 5-byte nop
    expect(section(out, 'info registers rip').split('\n')[0]).toBe(`rip            ${hx(show)} ${hx(show)} <cmdline_proc_show+0>`);
    expect(section(out, 'x/2i $pc')).toBe(`=> ${hx(show)} <cmdline_proc_show+0>:\tnop dword ptr [rax + rax]\t<- ftrace site (nop)\n   ${hx(show + 5n)} <cmdline_proc_show+5>:\tpush rbp\n`);
    expect(section(out, 'stepi')).toBe(`=> ${hx(show + 5n)} <cmdline_proc_show+5>:\tpush rbp\n`);
    const bt = section(out, 'bt').split('\n');
    expect(bt[1]).toBe(`#0  ${hx(show + 5n)} in cmdline_proc_show+0x5/0x43`);
    expect(bt[2]).toMatch(/^#1  0x[0-9a-f]+ in __x64_sys_open\+/);
    expect(bt).toContain('stack: reliable (ends at the end-of-stack frame)');
    expect(section(out, 'continue')).toBe('Continuing.\nBOOT_IMAGE=/boot/vmlinuz-6.6.0-klpemu root=/dev/vda ro console=ttyS0\n[cat /proc/cmdline: done, status 69]\n');
    expect(section(out, 'info breakpoints')).toContain('\tbreakpoint already hit 1 time\n');
    expect(s.d.job).toBeUndefined();
  });
});

describe('[debugger/batch]: livepatch-watch.gdb - the nop becomes a call during insmod, tasks switch over', () => {
  let s: Session;
  beforeAll(() => {
    s = bootSession();
  });
  afterAll(() => s.close());

  it('reports the poke, the per-task states in transition and after it, and the patched function', async () => {
    const failed = await runScript(s.d, fixture('livepatch-watch.gdb'), { echo: true });
    const out = s.out();
    expect(failed, out).toBeUndefined();
    const ins = section(out, 'insmod livepatch-sample.ko');
    expect(ins).toMatch(/Watchpoint 1: cmdline_proc_show: text_poke_bp by host \(guest call\) at 0x[0-9a-f]+ <cmdline_proc_show\+0>\n {2}before: 0f 1f 44 00 00 {2}nop dword ptr \[rax \+ rax\]\n {2}after: {2}e8 /);
    expect(section(out, 'pokes').split('\n')).toHaveLength(4);
    const [psDuring, psAfter] = out.split('(klpemu) ps\n').slice(1).map((x) => x.slice(0, x.indexOf('(klpemu)')));
    expect(psDuring).toMatch(/ 0 \(unpatched\) +1\n/);
    expect(psDuring).toMatch(/ 1 \(patched\) +0\n/);
    expect(psAfter).not.toMatch(/patched\)/);
    expect(psAfter).toMatch(/-1 \(idle\) +0\n/);
    const [klpDuring, klpAfter] = out.split('(klpemu) klp\n').slice(1);
    expect(klpDuring).toMatch(/transition: 'livepatch_sample' -> patched: \d+\/\d+ tasks switched/);
    expect(klpAfter).toContain('transition: none');
    expect(section(out, 'disassemble cmdline_proc_show')).toMatch(/<cmdline_proc_show\+0>:\tcall 0x[0-9a-f]+ <ftrace_trampoline\+0 \[__builtin__ftrace\]>/);
    expect(section(out, 'cat /proc/cmdline')).toContain('this has been live patched');
  });
});

/** The first code block after `heading` in a markdown file of the repository. */
function codeBlock(file: string, heading: string): string[] {
  const doc = readFileSync(ROOT + file, 'utf8');
  const from = doc.indexOf('```\n', doc.indexOf(heading)) + 4;
  return doc.slice(from, doc.indexOf('\n```', from)).split('\n');
}

/** What a rebuilt kernel moves: addresses and the rel32 of a call. */
const noAddrs = (l: string): string => l.replace(/0x[0-9a-f]+/g, '0x_').replace(/\be8( [0-9a-f]{2}){4}/g, 'e8 __ __ __ __');

describe('[debugger/batch]: the sessions README.md and docs/debugger.md show are what the debugger prints', () => {
  let s: Session;
  let out: string[];
  const doc = codeBlock('docs/debugger.md', '## A session');
  beforeAll(async () => {
    s = bootSession();
    const cmds = doc.filter((l) => l.startsWith('(klpemu) ')).map((l) => l.slice(9));
    expect(await runScript(s.d, cmds, { echo: true })).toBeUndefined();
    out = s.out().trimEnd().split('\n').map(noAddrs);
  });
  afterAll(() => s.close());

  it('docs/debugger.md: the annotated session, line for line, once its "# " comments are left out', () => {
    expect(doc[0]).toMatch(/^klpemu debugger: 2 cpus, seed 1, booted in \d+ ms; guest time 0\.000040 s\. "help" lists commands\.$/);
    expect(doc.slice(1).filter((l) => !l.startsWith('# ')).map(noAddrs)).toEqual(out);
  });

  it('README.md: every line of its excerpt, in order (annotations after two spaces and "#" left out)', () => {
    const excerpt = codeBlock('README.md', '## Debugger REPL').map((l) => noAddrs(l.replace(/ {2,}# .*$/, '')));
    let at = 0;
    for (const l of excerpt.filter((x) => x !== '...')) {
      const i = out.indexOf(l, at);
      expect(i, `README line not in the transcript (after line ${at}): ${l}`).toBeGreaterThanOrEqual(0);
      at = i + 1;
    }
  });
});

describe('[debugger/batch]: the klpemu repl command', () => {
  it('--batch FILE: exit 0, the transcript echoes every command', async () => {
    const r = await cli(['--batch', FIXTURES + 'cmdline-break.gdb']);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^klpemu debugger: 2 cpus, seed 1, booted in \d+ ms/);
    for (const cmd of fixture('cmdline-break.gdb').filter((l) => l && !l.startsWith('#'))) expect(r.out).toContain(`(klpemu) ${cmd}\n`);
    expect(r.out).toMatch(/\(klpemu\) stepi\n=> 0x[0-9a-f]+ <cmdline_proc_show\+5>:\tpush rbp\n/);
  }, 60_000);

  it('bad arguments: exit 2 with one line saying why, no stack trace, no session', async () => {
    const bad: [string[], string][] = [
      [['--bogus'], "klpemu repl: Unknown option '--bogus'\n'klpemu repl --help' for options\n"],
      [['--cpus', 'two'], "klpemu repl: --cpus: expected a non-negative integer, got 'two'\n'klpemu repl --help' for options\n"],
      [['--cpus', '9'], 'klpemu repl: cpus must be 1..8, got 9\n'],
      [['--batch', '/no/such.gdb'], "klpemu repl: --batch: ENOENT: no such file or directory, open '/no/such.gdb'\n'klpemu repl --help' for options\n"],
      [['--kernel', '/no/vmlinux'], 'klpemu repl: /no/vmlinux not found: run `npm run build-kernel` first\n'],
    ];
    const runs = await Promise.all(bad.map(([args]) => cli(args, 'p 1\n')));
    runs.forEach((r, i) => {
      expect(r.code, r.out).toBe(2);
      expect(r.out).toBe(bad[i]![1]);
    });
  }, 60_000);

  it('--batch FILE: exit 1 at the first failing command, the rest of the file is not run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'klpemu-batch-'));
    try {
      writeFileSync(join(dir, 'bad.gdb'), 'break cmdline_proc_show\nx/2i nosuchsymbol\ninfo breakpoints\n');
      const r = await cli(['--batch', join(dir, 'bad.gdb')]);
      expect(r.code, r.out).toBe(1);
      expect(r.out).toMatch(/\n\(klpemu\) x\/2i nosuchsymbol\nNo symbol "nosuchsymbol" in current context\.\n$/);
      expect(r.out).not.toContain('(klpemu) info breakpoints');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('commands on stdin: exit 1 at the first failing command, the rest is not run', async () => {
    const r = await cli(['--cpus', '1'], 'info cpus\np nosuchsymbol\nps\n');
    expect(r.code, r.out).toBe(1);
    expect(r.out).toContain('(klpemu) p nosuchsymbol\nNo symbol "nosuchsymbol" in current context.\n');
    expect(r.out).not.toContain('(klpemu) ps');
  }, 60_000);
});
