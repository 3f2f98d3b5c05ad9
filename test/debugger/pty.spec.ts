// pty.spec.ts - the interactive REPL through a real pseudo-terminal (tmux): typing, TAB completion,
// Ctrl-C at the prompt and during `continue`/`stepi N`, history across sessions, quit and Ctrl-D

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** A tmux server of our own: nothing here touches the user's sessions. */
const SOCKET = `klpemu-pty-${process.pid}-${Date.now()}`;
const SESSION = 'repl';
/** Generous: the machine boots in the pane, and 2 shared cores may be busy with other tests. */
const WAIT_MS = 45_000;
/** The server's config file (remain-on-exit, history size), read when the server starts. */
let conf = '/dev/null';

function tmux(...args: string[]): string {
  const env = { ...process.env };
  delete env.TMUX; // started from inside tmux: still talk to our own server
  return execFileSync('tmux', ['-L', SOCKET, '-f', conf, ...args], { encoding: 'utf8', env });
}

function tmuxAvailable(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const sh = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The pane: its whole history, wrapped lines joined, trailing blank lines dropped. */
function screen(): string[] {
  const lines = tmux('capture-pane', '-p', '-J', '-S', '-', '-t', SESSION).split('\n');
  while (lines.length && lines[lines.length - 1]!.trim() === '') lines.pop();
  return lines;
}

/** Lines printed from now on start after this index (the current prompt line may still change). */
const mark = (): number => Math.max(0, screen().length - 1);

/** Poll the pane until `pattern` appears in the lines from `from` on; the text there. */
async function waitFor(pattern: string | RegExp, from = 0, timeoutMs = WAIT_MS): Promise<string> {
  const t0 = Date.now();
  let text = '';
  for (;;) {
    text = screen().slice(from).join('\n');
    if (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text)) return text;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${String(pattern)}; the pane shows:\n${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Type text literally (no key names), then optional keys (Enter, Tab, C-c, Up). */
function type(text: string, ...keys: string[]): void {
  if (text) tmux('send-keys', '-t', SESSION, '-l', text);
  if (keys.length) tmux('send-keys', '-t', SESSION, ...keys);
}

/** The line being edited (the last line of the pane). */
const promptLine = (): string => screen().at(-1) ?? '';

async function waitPrompt(content: string): Promise<void> {
  const t0 = Date.now();
  while (promptLine() !== `(klpemu) ${content}`) {
    if (Date.now() - t0 > WAIT_MS) throw new Error(`prompt line is '${promptLine()}', expected '(klpemu) ${content}'`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What the wrapper shell prints when the REPL process ends (tmux's pane_dead_status is not always filled in). */
const EXITED = /\[klpemu repl exited with status (\d+)\]/;

/** Start `klpemu repl` (the installed bin/klpemu.mjs) in a fresh 200x50 session. */
function startRepl(history: string): void {
  const cmd = `cd ${sh(ROOT)} && KLPEMU_HISTORY=${sh(history)} ${sh(process.execPath)} bin/klpemu.mjs repl --cpus 2 --seed 1; echo "[klpemu repl exited with status $?]"`;
  tmux('new-session', '-d', '-s', SESSION, '-x', '200', '-y', '50', cmd);
}

/** Wait for the REPL process to end. @returns its exit status */
async function waitExit(from: number): Promise<number> {
  return Number(EXITED.exec(await waitFor(EXITED, from))![1]);
}

describe('[debugger/pty]: klpemu repl in a real terminal (tmux)', () => {
  let dir: string;
  let history: string;

  beforeAll(async () => {
    if (!tmuxAvailable()) throw new Error('tmux is required for this test (the README install line installs it)');
    dir = mkdtempSync(join(tmpdir(), 'klpemu-pty-'));
    history = join(dir, 'history');
    // remain-on-exit keeps the pane, with the wrapper's exit line, after the REPL quits
    conf = join(dir, 'tmux.conf');
    writeFileSync(conf, 'set -g remain-on-exit on\nset -g history-limit 100000\nset -g status off\n');
    startRepl(history);
    await waitFor(/klpemu debugger: 2 cpus, seed 1, booted in \d+ ms/);
    await waitPrompt('');
  }, 60_000);

  afterAll(() => {
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
    // tmux leaves the socket file behind when the server is killed
    rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, SOCKET), { force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a typed command runs and prints its result; the prompt comes back', async () => {
    const from = mark();
    type('p 6 * 7', 'Enter');
    expect(await waitFor('$1 = 42', from)).toMatch(/^\(klpemu\) p 6 \* 7\n\$1 = 42(\n|$)/);
    await waitPrompt('');
    const from2 = mark();
    type('info symbol cmdline_proc_show+5', 'Enter');
    await waitFor('cmdline_proc_show + 5 in section .text', from2);
    await waitPrompt('');
  }, 60_000);

  it('TAB completes a command name, then a kernel symbol; a second TAB lists the candidates', async () => {
    type('disassem', 'Tab');
    await waitPrompt('disassemble');
    type(' msleep_interr', 'Tab');
    await waitPrompt('disassemble msleep_interruptible');
    const from = mark();
    type('', 'Enter');
    const out = await waitFor('End of assembler dump.', from);
    expect(out).toContain('Dump of assembler code for function msleep_interruptible:');
    expect(out).toMatch(/<msleep_interruptible\+0>:\s+nop dword ptr \[rax \+ rax\]\s+<- ftrace site \(nop\)/);
    await waitPrompt('');

    // two symbols share "cmdline_proc_": TAB completes the common part, TAB again lists both
    type('b cmdline_pr', 'Tab');
    await waitPrompt('b cmdline_proc_');
    const list = mark();
    type('', 'Tab');
    await waitFor(/^cmdline_proc_delay_ms\s+cmdline_proc_show$/m, list);
    await waitPrompt('b cmdline_proc_');
    type('s', 'Tab');
    await waitPrompt('b cmdline_proc_show');
    const from2 = mark();
    type('', 'Enter');
    await waitFor(/Breakpoint 1 at 0x[0-9a-f]+: cmdline_proc_show\+0x0\/0x43\./, from2);
    await waitPrompt('');
  }, 60_000);

  it('the breakpoint stops a guest cat; Ctrl-C at the prompt only clears the line', async () => {
    const from = mark();
    type('cat /proc/cmdline', 'Enter');
    const hit = await waitFor('[cat /proc/cmdline: still running in the guest; "continue" finishes it]', from);
    expect(hit).toMatch(/Breakpoint 1, cmdline_proc_show\+0x0\/0x43 on cpu \d \(pid \d+ klpsh\)/);
    await waitPrompt('');
    type('delete', 'Enter');
    await waitPrompt('');

    type('this is never run');
    await waitPrompt('this is never run');
    const from2 = mark();
    type('', 'C-c');
    await waitFor(/\(klpemu\) this is never run\^C\n\(klpemu\) $/, from2);
    const from3 = mark();
    type('continue', 'Enter');
    await waitFor('[cat /proc/cmdline: done, status 69]', from3);
    await waitPrompt('');
  }, 60_000);

  it('Ctrl-C during a continue that would run forever stops the machine with a message; the session goes on', async () => {
    const from = mark();
    type('continue', 'Enter');
    await waitFor('Continuing.', from);
    // let the machine run: guest time must move before the interrupt
    await new Promise((r) => setTimeout(r, 1000));
    expect(promptLine()).not.toMatch(/^\(klpemu\)/);
    type('', 'C-c');
    const out = await waitFor(/Program received signal SIGINT, Interrupt\. \[cpu \d \(pid \d+ [\w/:]+\)\]\n=> 0x[0-9a-f]+ <\w+\+\d+>:/, from);
    expect(out).not.toContain('Error');
    await waitPrompt('');
    const from2 = mark();
    type('info cpus', 'Enter');
    const cpus = await waitFor(/guest time (\d+\.\d+) s/, from2);
    expect(Number(/guest time (\d+\.\d+) s/.exec(cpus)![1])).toBeGreaterThan(0.02);
    await waitPrompt('');
    expect(screen().join('\n')).not.toMatch(EXITED);

    // stepi N is one run: Ctrl-C stops it too; a line typed meanwhile is dropped, not run after it
    const from3 = mark();
    type('stepi 1000000000', 'Enter');
    await new Promise((r) => setTimeout(r, 500));
    type('p 777', 'Enter');
    type('', 'C-c');
    await waitFor(/\(klpemu\) stepi 1000000000\n[^]*Program received signal SIGINT, Interrupt\./, from3);
    await waitPrompt('');
    const from4 = mark();
    type('p 778', 'Enter');
    const after = await waitFor(/\$\d+ = 778/, from3);
    expect(after).not.toContain('= 777');
    expect(screen().slice(from4).join('\n')).toMatch(/^\(klpemu\) p 778\n\$\d+ = 778/);
    await waitPrompt('');
  }, 60_000);

  it('quit exits 0; the history file keeps the session\'s commands; a new session recalls them with Up', async () => {
    type('p 1 + 1', 'Enter');
    await waitPrompt('');
    const quit = mark();
    type('quit', 'Enter');
    expect(await waitExit(quit)).toBe(0);
    const saved = readFileSync(history, 'utf8').split('\n').filter(Boolean);
    expect(saved.slice(-3)).toEqual(['p 778', 'p 1 + 1', 'quit']);
    expect(saved).toContain('b cmdline_proc_show');
    expect(saved).not.toContain('this is never run');

    tmux('kill-session', '-t', SESSION);
    startRepl(history);
    await waitFor(/klpemu debugger: 2 cpus/);
    await waitPrompt('');
    type('', 'Up');
    await waitPrompt('quit');
    type('', 'Up');
    await waitPrompt('p 1 + 1');
    const from = mark();
    type('', 'Enter');
    await waitFor('$1 = 2', from);
    await waitPrompt('');
    const eof = mark();
    type('', 'C-d');
    expect(await waitExit(eof)).toBe(0);
  }, 90_000);
});
