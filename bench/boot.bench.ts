// boot.bench.ts - host milliseconds of bootKernel on 1, 2 and 4 vCPUs, and the guest time at BOOT_DONE

import { bootKernel } from '../src/kernel/boot.ts';
import type { KernelImage } from '../src/kernel/image.ts';
import { median, type Row } from './table.ts';

export interface BootBenchOptions {
  cpus?: number[];
  /** Timed boots per vCPU count (after one untimed warm-up boot of each count). */
  reps?: number;
  seed?: number;
}

/**
 * bootKernel with the default options (deterministic mode, 2 user tasks) on
 * an already parsed image: machine creation, loading, and running to the
 * BOOT_DONE hypercall. Deterministic, so the guest figures are exact.
 */
export function benchBoot(image: KernelImage, opts: BootBenchOptions = {}): Row[] {
  const cpuCounts = opts.cpus ?? [1, 2, 4];
  const reps = opts.reps ?? 9;
  const seed = opts.seed ?? 1;
  const rows: Row[] = [];
  for (const cpus of cpuCounts) bootKernel({ cpus, seed, image }).machine.close(); // warm-up: JIT, library load
  for (const cpus of cpuCounts) {
    const ms: number[] = [];
    let guest = '';
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      const k = bootKernel({ cpus, seed, image });
      ms.push(performance.now() - t0);
      const m = k.machine;
      const clocks = m.vcpus.map((v) => v.timeNs);
      const maxNs = clocks.reduce((a, b) => (b > a ? b : a), 0n);
      const events = m.vcpus.reduce((a, v) => a + v.events, 0n);
      const slices = m.vcpus.reduce((a, v) => a + v.slices, 0);
      guest = `guest ${(Number(maxNs) / 1e6).toFixed(2)} ms at BOOT_DONE (latest vCPU clock; machine now ${(Number(m.nowNs) / 1e6).toFixed(2)} ms), ${events} event${events === 1n ? '' : 's'}, ${slices} slice${slices === 1 ? '' : 's'}`;
      m.close();
    }
    rows.push({
      group: 'boot',
      what: `bootKernel, ${cpus} vCPU${cpus > 1 ? 's' : ''}`,
      value: `${median(ms).toFixed(1)} ms`,
      note: `median of ${reps} (${Math.min(...ms).toFixed(1)}..${Math.max(...ms).toFixed(1)}); ${guest}`,
    });
  }
  return rows;
}
