// cli.ts - `klpemu repl`: boot a machine and debug it interactively, from a batch file, or from piped stdin

import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { createSystem } from '../system.ts';
import { bootKernel } from '../kernel/boot.ts';
import { DEFAULT_VMLINUX } from '../kernel/loadImage.ts';
import { Debugger } from './session.ts';
import { targetOfKernel, targetOfSystem, type DebugTarget } from './target.ts';
import { parseDuration, fmtTime } from './format.ts';
import { runInteractive } from './repl.ts';
import { runScript } from './script.ts';

const HELP = `usage: klpemu repl [--cpus N] [--seed S] [--kernel PATH] [--no-boot] [--batch FILE] [--continue-limit DUR] [--history FILE]
  --cpus N              vCPUs, 1..8 (default 2)
  --seed S              interleaving seed (default 1)
  --kernel PATH         vmlinux (default kernel-image/build/vmlinux)
  --no-boot             stop before the first instruction (a bare kernel: no ftrace, modules, livepatch)
  --batch FILE          run FILE's commands, echoing each; exit 1 at the first failing command
  --continue-limit DUR  guest time a continue may run without a stop before it fails
                        (default: 10s in batch/stdin mode, off interactively)
  --history FILE        history file (default $KLPEMU_HISTORY or ~/.klpemu_history)
Commands are read from stdin when it is not a terminal (as with --batch).
Exit status: 0; 1 when a batch/stdin command failed; 2 for bad arguments or a machine that cannot boot.`;

const OPTIONS = {
  cpus: { type: 'string', default: '2' }, seed: { type: 'string', default: '1' }, kernel: { type: 'string' },
  'no-boot': { type: 'boolean', default: false }, batch: { type: 'string' }, 'continue-limit': { type: 'string' },
  history: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

function boot(values: { cpus: string; seed: string; kernel?: string; 'no-boot': boolean }): DebugTarget {
  const opts = { cpus: Number(values.cpus), seed: Number(values.seed), kernel: values.kernel ?? DEFAULT_VMLINUX };
  if (values['no-boot']) return targetOfKernel(bootKernel({ ...opts, noRun: true }));
  return targetOfSystem(createSystem(opts));
}

async function readStdin(): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').split('\n');
}

/** Bad command-line input: reported as `klpemu repl: …` with exit status 2. */
class UsageError extends Error {}

function parseCli(argv: string[]) {
  let values;
  try {
    values = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  for (const [k, v] of [['cpus', values.cpus], ['seed', values.seed]] as const) {
    if (!/^\d+$/.test(v)) throw new UsageError(`--${k}: expected a non-negative integer, got '${v}'`);
  }
  const limit = values['continue-limit'];
  if (limit !== undefined && limit !== 'off') {
    try {
      parseDuration(limit);
    } catch (e) {
      throw new UsageError(`--continue-limit: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  let script: string[] | undefined;
  if (values.batch !== undefined) {
    try {
      script = readFileSync(values.batch, 'utf8').split('\n');
    } catch (e) {
      throw new UsageError(`--batch: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { values, script };
}

/** Entry point of `klpemu repl`. @returns the exit code (2: bad arguments or a machine that cannot start) */
export async function main(argv: string[]): Promise<number> {
  let cli: ReturnType<typeof parseCli>;
  let target: DebugTarget;
  const t0 = performance.now();
  try {
    cli = parseCli(argv);
    if (cli.values.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    target = boot(cli.values);
  } catch (e) {
    process.stderr.write(`klpemu repl: ${e instanceof Error ? e.message : String(e)}\n${e instanceof UsageError ? "'klpemu repl --help' for options\n" : ''}`);
    return 2;
  }
  const { values, script } = cli;
  const interactive = script === undefined && process.stdin.isTTY === true;
  const limit = values['continue-limit'] ?? (interactive ? undefined : '10s');
  const d = new Debugger(target, { continueLimitNs: limit === undefined || limit === 'off' ? undefined : parseDuration(limit) });
  const m = target.kernel.machine;
  d.print(`klpemu debugger: ${m.vcpus.length} cpus, seed ${m.seed}, ${values['no-boot'] ? 'loaded, not started' : 'booted'} in ${Math.round(performance.now() - t0)} ms; guest time ${fmtTime(m.nowNs)}. "help" lists commands.`);
  // Ctrl-C outside a terminal arrives as SIGINT: stop a running command, else quit.
  process.on('SIGINT', () => (d.runner.running ? d.runner.interrupt() : process.exit(130)));
  let code: number;
  try {
    if (interactive) code = await runInteractive(d, { input: process.stdin, output: process.stdout, historyFile: values.history });
    else code = (await runScript(d, script ?? (await readStdin()), { echo: true })) ? 1 : 0;
  } finally {
    d.close();
    m.close();
  }
  return code;
}
