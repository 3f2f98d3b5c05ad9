// kernelImage.ts - the kernel built once per test process in memory (linkKernel + parseImage), and deterministic boots of it

import { fileURLToPath } from 'node:url';
import { linkKernel, readSources, type BuildResult } from '../../src/build/vmlinux.ts';
import { parseImage } from '../../src/kernel/loadImage.ts';
import { bootKernel, type BootOptions } from '../../src/kernel/boot.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import type { KernelImage } from '../../src/kernel/image.ts';
import type { TaskView } from '../../src/kernel/tasks.ts';
import { createEngine } from '../../emu/engine.ts';
import type { Engine } from '../../emu/types.ts';
import { PERCPU, TASK } from '../../src/abi/layout.ts';

/** kernel-image/ (sources) and kernel-image/build/ (what `npm run build-kernel` writes). */
export const KERNEL_SRC_DIR = fileURLToPath(new URL('../../kernel-image/', import.meta.url));
export const KERNEL_BUILD_DIR = fileURLToPath(new URL('../../kernel-image/build/', import.meta.url));

let cached: { build: BuildResult; image: KernelImage } | undefined;

/** linkKernel(readSources(kernel-image)) once per process; later calls return the same objects. */
export function kernelBuild(): { build: BuildResult; image: KernelImage } {
  if (!cached) {
    const build = linkKernel(readSources(KERNEL_SRC_DIR));
    cached = { build, image: parseImage(build.elf, '<test vmlinux>') };
  }
  return cached;
}

/** The parsed in-memory image (pass it as BootOptions.image). */
export function kernelImage(): KernelImage {
  return kernelBuild().image;
}

/** Boot the in-memory image: deterministic mode and seed 1 unless `opts` says otherwise. */
export function bootTest(opts: BootOptions = {}): Kernel {
  return bootKernel({ mode: 'deterministic', seed: 1, cpus: 1, ...opts, image: kernelImage() });
}

/** Boot the in-memory image, run `fn`, and release the machine's engines whatever happens. */
export function withKernel<T>(opts: BootOptions, fn: (k: Kernel) => T): T {
  const k = bootTest(opts);
  try {
    return fn(k);
  } finally {
    k.machine.close();
  }
}

/** dmesg lines without their `[    0.000010] ` timestamps. */
export function dmesgText(k: Kernel): string[] {
  return k.dmesg().map((l) => l.replace(/^\[\s*\d+\.\d{6}\] /, ''));
}

/** A u64 field of the per-CPU area of `cpu`. */
export function perCpuU64(k: Kernel, cpu: number, field: keyof typeof PERCPU): bigint {
  return k.machine.mem.readU64(k.perCpu(cpu) + BigInt(PERCPU[field]));
}

/** task->switch_count (context switches into the task). */
export function switchCount(k: Kernel, t: TaskView): bigint {
  return k.machine.mem.readU64(t.addr + BigInt(TASK.switch_count));
}

/** A u64 guest variable by symbol name. */
export function symU64(k: Kernel, name: string): bigint {
  return k.machine.mem.readU64(k.sym(name));
}

/** The task named `comm` (throws if there is none, so a missing task fails the test loudly). */
export function taskByComm(k: Kernel, comm: string): TaskView {
  const t = k.tasks().find((x) => x.comm === comm);
  if (!t) throw new Error(`no task ${comm}: ${k.tasks().map((x) => x.comm).join(', ')}`);
  return t;
}

/**
 * An engine whose block hooks see addresses as unsigned 64-bit values. Test-side
 * workaround for the product bug pinned by smp.spec.ts ("countInstructions with
 * code above 2^63"): the stock engine hands high-half addresses to block hooks as
 * negative numbers, so Machine.countBlock throws on kernel text and the stop stub.
 */
export function unsignedBlockHookEngine(): Engine {
  const e = createEngine();
  const add = e.addBlockHook.bind(e);
  e.addBlockHook = (cb, begin, end) => add((addr, size) => cb(BigInt.asUintN(64, addr), size), begin, end);
  return e;
}
