// klpemu.ts - the `klpemu` command: a table of subcommands, each a main(argv) → exit code

import { fileURLToPath } from 'node:url';
import { unicornAvailable } from '../emu/index.ts';

type Sub = { describe: string; load: () => Promise<{ main(argv: string[]): Promise<number> }> };

const SUBCOMMANDS: Record<string, Sub> = {
  run: { describe: 'the main demo: boot, live-patch cmdline_proc_show, undo it', load: () => import('./run.ts') },
  selftest: { describe: "replay the kernel's livepatch kselftests, compare dmesg", load: () => import('./selftest.ts') },
  validate: { describe: 'check a livepatch module or raw patch bytes: static checks and a trial run', load: () => import('./validate.ts') },
  'build-module': { describe: 'assemble a module source (.S) into a livepatch-capable .ko', load: () => import('./build-module.ts') },
  repl: { describe: 'debugger: break, step, watch text pokes, tasks and patch state', load: () => import('../src/debugger/cli.ts') },
};

function usage(): string {
  const lines = Object.entries(SUBCOMMANDS).map(([n, s]) => `  ${n.padEnd(10)} ${s.describe}`);
  return ['usage: klpemu <command> [options]', '', 'commands:', ...lines, '', "'klpemu <command> --help' for options"].join('\n');
}

/** Entry point: returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage() + '\n');
    return cmd ? 0 : 2;
  }
  const sub = SUBCOMMANDS[cmd];
  if (!sub) {
    process.stderr.write(`klpemu: unknown command '${cmd}'\n${usage()}\n`);
    return 2;
  }
  const lib = unicornAvailable();
  if (!lib.ok) {
    process.stderr.write(lib.message + '\n');
    return 1;
  }
  return (await sub.load()).main(rest);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
    process.stderr.write(`klpemu: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
