// run.ts - `klpemu run`: boot, let the tasks run, print dmesg and a task's read of /proc/cmdline

import { parseArgs } from 'node:util';
import { bootKernel } from '../src/kernel/boot.ts';
import { catProc } from '../src/kernel/klpsh.ts';

const HELP = `usage: klpemu run [--cpus N] [--seed S] [--free] [--kernel PATH] [--ms MS]
  --cpus N      vCPUs, 1..8 (default 2)
  --seed S      interleaving seed (default 1)
  --free        fast free-running mode (NON-DETERMINISTIC)
  --kernel PATH vmlinux (default kernel-image/build/vmlinux)
  --ms MS       guest milliseconds to run after boot (default 200)`;

/** @returns the exit code */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      cpus: { type: 'string', default: '2' }, seed: { type: 'string', default: '1' },
      free: { type: 'boolean', default: false }, kernel: { type: 'string' },
      ms: { type: 'string', default: '200' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const k = bootKernel({
    cpus: Number(values.cpus), seed: Number(values.seed), mode: values.free ? 'free' : 'deterministic',
    kernel: values.kernel,
  });
  k.machine.runFor(BigInt(Number(values.ms)) * 1_000_000n);
  const cat = catProc(k, '/proc/cmdline');
  process.stdout.write(k.dmesg().join('\n') + '\n');
  process.stdout.write(`\n$ cat /proc/cmdline\n${cat.out}`);
  k.machine.close();
  return cat.status < 0n ? 1 : 0;
}
