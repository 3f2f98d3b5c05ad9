// run.ts - `npm run bench`: run every benchmark once and print one table of rates and ratios

import { cpus, loadavg, release, totalmem } from 'node:os';
import { loadUnicorn } from '../emu/raw/unicorn.ts';
import { benchImage } from './image.ts';
import { benchSyscall } from './syscall.bench.ts';
import { benchBoot } from './boot.bench.ts';
import { benchLivepatch } from './livepatch.bench.ts';
import { benchFtrace } from './ftrace.bench.ts';
import { renderTable, type Row } from './table.ts';

function unicornVersion(): string {
  const v = loadUnicorn().lib.uc_version(null, null);
  return `${(v >>> 24) & 0xff}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}`;
}

const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

/** Run every benchmark; @returns exit code (0 even when a target is missed: figures, not assertions) */
export async function main(): Promise<number> {
  const t0 = performance.now();
  const host = cpus();
  console.log(`klpemu bench — node ${process.version}, Unicorn ${unicornVersion()}, ${host.length} × ${host[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}`);
  console.log(`load average at start: ${load()}`);
  const { image, linkMs } = benchImage();
  console.log(`kernel: kernel-image/*.S linked in memory in ${linkMs.toFixed(0)} ms (not in any figure)`);
  const log = (l: string): void => void process.stderr.write(`${l}\n`);
  const rows: Row[] = [];
  const phase = async (name: string, fn: () => Row[] | Promise<Row[]>): Promise<void> => {
    const t = performance.now();
    log(`bench: ${name}`);
    rows.push(...(await fn()));
    log(`bench: ${name} done in ${((performance.now() - t) / 1000).toFixed(1)} s (load average ${load()})`);
  };
  await phase('syscall', () => benchSyscall(image));
  await phase('boot', () => benchBoot(image));
  await phase('livepatch', () => benchLivepatch(image, { log }));
  await phase('ftrace', () => benchFtrace({ log }));
  console.log('');
  console.log(renderTable(rows));
  console.log('');
  console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB, load average at end: ${load()}`);
  return 0;
}

process.exitCode = await main();
