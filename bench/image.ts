// image.ts - the kernel image every benchmark boots: kernel-image/*.S linked in memory, once per process

import { fileURLToPath } from 'node:url';
import { linkKernel, readSources } from '../src/build/vmlinux.ts';
import { parseImage } from '../src/kernel/loadImage.ts';
import type { KernelImage } from '../src/kernel/image.ts';

const SOURCES = fileURLToPath(new URL('../kernel-image/', import.meta.url));

let cached: { image: KernelImage; linkMs: number } | undefined;

/**
 * Link kernel-image/*.S into vmlinux in memory and parse it (so the bench never
 * runs a stale kernel-image/build/vmlinux). The link time is reported, not
 * included in any other figure.
 */
export function benchImage(): { image: KernelImage; linkMs: number } {
  if (!cached) {
    const t0 = performance.now();
    const image = parseImage(linkKernel(readSources(SOURCES)).elf, 'vmlinux (in memory)');
    cached = { image, linkMs: performance.now() - t0 };
  }
  return cached;
}

/** Address of a vmlinux symbol. @throws when the image lacks it */
export function symbolAddr(image: KernelImage, name: string): bigint {
  const s = image.symbols.find((x) => x.name === name);
  if (!s) throw new Error(`vmlinux has no symbol ${name}`);
  return s.addr;
}

/** [start, end) of a vmlinux function. @throws when the image lacks it */
export function symbolRange(image: KernelImage, name: string): [bigint, bigint] {
  const s = image.symbols.find((x) => x.name === name);
  if (!s) throw new Error(`vmlinux has no symbol ${name}`);
  return [s.addr, s.addr + BigInt(s.size)];
}
