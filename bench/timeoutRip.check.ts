// timeoutRip.check.ts - evidence for the free-mode corruption: a stop by Unicorn's emuStart timeout reports a stale RIP (npx tsx bench/timeoutRip.check.ts)
//
// Not a benchmark (run.ts does not run it): bare engines as in the syscall
// benchmark run the getpid path in emuStart calls with a 2 ms timeout and far
// more than 2 ms of work, and every stop is checked. A stop with RIP at
// entry_SYSCALL_64 must have the user RSP (nothing of the entry has run yet); a
// kernel-stack RSP there means the reported RIP is stale - an earlier block's
// start while the CPU was already further down the path. Unicorn 2.0.1 skips the
// PC resync of a requested TB exit whenever a timeout is set (cpu_tb_exec in
// qemu/accel/tcg/cpu-exec.c: `!env->uc->timeout`), with or without hooks ('jump'
// has none). With the syscall hook (it writes RIP) the timeout is also often
// lost: emuStart runs to the end. Resuming from a stale RIP is what corrupts
// the guest in the machine's 'free' mode.

import { fileURLToPath } from 'node:url';
import { bootKernel } from '../src/kernel/boot.ts';
import { BareGetpid, captureGetpidState, type BareKind } from './bare.ts';
import { benchImage } from './image.ts';

const TIMEOUT_US = 2000;
const ITERS = 20_000; // ~45-70 ms of work per emuStart
const LOOP = { jump: 0x10000n, syscall: 0x10040n } as const;
const HLT_NEXT = { jump: 0x1001cn, syscall: 0x1004dn } as const;

/** @returns exit code 0; prints one line per engine kind */
export function main(seconds = 3): number {
  const { image } = benchImage();
  const k = bootKernel({ cpus: 1, image, nrUserTasks: 1, mode: 'deterministic' });
  k.machine.runFor(20_000_000n);
  const state = captureGetpidState(k);
  k.machine.close();
  for (const kind of ['jump', 'syscall'] as BareKind[]) {
    const b = new BareGetpid(state, kind);
    const e = b.engine;
    const userRsp = e.regRead('rsp');
    b.run(100);
    let runs = 0;
    let honoured = 0;
    let stale = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      e.regWriteBatch(['r15', 'rflags', 'rsp'], [BigInt(ITERS), state.userRflags, userRsp]);
      e.emuStart(LOOP[kind], 0n, TIMEOUT_US, 0);
      runs++;
      const [rip, rsp] = e.regReadBatch(['rip', 'rsp']);
      if (rip === HLT_NEXT[kind]) continue; // ran to the end: the timeout did not stop it
      honoured++;
      if (rip === state.entry && rsp !== userRsp) stale++;
    }
    b.close();
    console.log(
      `${kind.padEnd(7)} ${runs} emuStart calls of ${ITERS} getpid with a ${TIMEOUT_US} µs timeout: ` +
        `${runs - honoured} ran to the end (timeout lost), ${honoured} stopped early, ` +
        `${stale} of those at entry_SYSCALL_64 with a kernel-stack RSP (stale RIP)`,
    );
  }
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = main();
}
