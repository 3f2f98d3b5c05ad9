// repl.ts - the interactive prompt: readline with history across sessions, tab completion, Ctrl-C

import * as readline from 'node:readline';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Debugger } from './session.ts';
import { complete } from './complete.ts';
import { PROMPT } from './script.ts';

/** Commands an empty line repeats (as gdb repeats the last command on Enter). */
const REPEATABLE = /^(stepi|si|nexti|ni|x)(\s|\/|$)/;

/** History file: $KLPEMU_HISTORY, else ~/.klpemu_history. */
export function historyPath(): string {
  return process.env.KLPEMU_HISTORY || join(homedir(), '.klpemu_history');
}

/** Lines of the history file, most recent first (readline's order). */
function loadHistory(file: string): string[] {
  try {
    return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).reverse().slice(0, 1000) : [];
  } catch {
    return [];
  }
}

function saveHistory(file: string, history: string[]): void {
  try {
    writeFileSync(file, [...history].reverse().join('\n') + '\n');
  } catch {
    // a read-only home must not break the session
  }
}

export interface ReplOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  historyFile?: string;
}

/**
 * Run the interactive prompt until `quit` or end of input. Lines typed while
 * a command runs are queued; Ctrl-C interrupts a running command (the run
 * loop yields to the event loop, where readline sees the keypress) and drops
 * the queued lines, or abandons the line at the prompt. Resolves with the
 * exit code.
 */
export function runInteractive(d: Debugger, opts: ReplOptions): Promise<number> {
  const file = opts.historyFile ?? historyPath();
  const rl = readline.createInterface({
    input: opts.input, output: opts.output, terminal: true, prompt: PROMPT, historySize: 1000,
    history: loadHistory(file), removeHistoryDuplicates: true, completer: (line: string) => complete(d, line),
  });
  rl.on('history', (h: string[]) => saveHistory(file, h));
  const queue: string[] = [];
  let busy = false;
  let closed = false;
  let last = '';
  return new Promise((resolve) => {
    const finish = (): void => resolve(0);
    rl.on('SIGINT', () => {
      if (busy) {
        // stop the command at its next step boundary; lines typed meanwhile are dropped
        queue.length = 0;
        return d.runner.interrupt();
      }
      // as a shell does: the abandoned line stays on screen with ^C, a fresh prompt below
      rl.write(null, { ctrl: true, name: 'e' });
      opts.output.write('^C\n');
      rl.write(null, { ctrl: true, name: 'u' });
      rl.prompt();
    });
    rl.on('close', () => {
      closed = true;
      if (!busy) finish();
    });
    const pump = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      while (queue.length && !d.quitRequested) {
        let line = queue.shift()!;
        if (!line.trim() && REPEATABLE.test(last)) line = last;
        if (line.trim()) last = line.trim();
        await d.execute(line);
      }
      busy = false;
      if (d.quitRequested && !closed) rl.close();
      else if (closed) finish();
      else rl.prompt();
    };
    rl.on('line', (line: string) => {
      queue.push(line);
      void pump();
    });
    rl.prompt();
  });
}
