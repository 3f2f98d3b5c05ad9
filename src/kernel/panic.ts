// panic.ts - the host half of kernel/panic.c: tainted_mask in guest memory (kernel-image/panic.S) and /proc/sys/kernel/tainted

import { Taint } from '../abi/layout.ts';
import { Errno } from './errno.ts';
import type { Kernel } from './kernel.ts';

const TAINT_MASK = (1n << BigInt(Taint.FLAGS_COUNT)) - 1n;

/** test_taint(flag). */
export function testTaint(k: Kernel, flag: number): boolean {
  return ((k.machine.mem.readU64(k.sym('tainted_mask')) >> BigInt(flag)) & 1n) !== 0n;
}

/** add_taint(flag): bits only ever get set. */
export function addTaint(k: Kernel, flag: number): void {
  const at = k.sym('tainted_mask');
  k.machine.mem.writeU64(at, k.machine.mem.readU64(at) | (1n << BigInt(flag)));
}

/**
 * /proc/sys/kernel/tainted (proc_taint): reads the mask in decimal; a write
 * adds every bit of the value (it cannot clear one); a value with a bit past
 * TAINT_FLAGS_COUNT or not a number is -EINVAL.
 */
export function createTaintSysctl(k: Kernel): void {
  k.vfs.createFile('/proc/sys/kernel/tainted', {
    mode: 0o644,
    show: () => `${k.machine.mem.readU64(k.sym('tainted_mask'))}\n`,
    store: (v) => {
      const t = v.trim();
      if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(t)) return -Errno.EINVAL;
      const bits = BigInt(t);
      if (bits & ~TAINT_MASK) return -Errno.EINVAL;
      for (let i = 0; i < Taint.FLAGS_COUNT; i++) if ((bits >> BigInt(i)) & 1n) addTaint(k, i);
      return v.length;
    },
  });
}
