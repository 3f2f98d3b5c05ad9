// script.ts - run a list of command lines (batch files, `source`, commands piped on stdin), stopping at the first failure

import type { Debugger } from './session.ts';

/** The prompt, also printed before each echoed scripted command. */
export const PROMPT = '(klpemu) ';

/** The first failing line of a script. */
export interface ScriptFailure {
  line: number;
  text: string;
  /** Ctrl-C stopped the script there (the command itself may have succeeded). */
  interrupted?: boolean;
}

/**
 * Run `lines` in order; blank lines and `#` comments are skipped; Ctrl-C
 * ends the script after the command it interrupted. With
 * `echo`, each command is printed after the prompt first, so a transcript
 * reads like an interactive session.
 * @returns undefined when every command succeeded, else the first failure
 */
export async function runScript(d: Debugger, lines: readonly string[], opts: { echo: boolean }): Promise<ScriptFailure | undefined> {
  for (const [i, raw] of lines.entries()) {
    const text = raw.trim();
    if (!text || text.startsWith('#')) continue;
    if (opts.echo) d.print(PROMPT + text);
    if (!(await d.execute(text))) return { line: i + 1, text };
    if (d.runner.interrupted) return { line: i + 1, text, interrupted: true };
    if (d.quitRequested) return undefined;
  }
  return undefined;
}
