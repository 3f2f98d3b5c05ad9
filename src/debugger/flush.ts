// flush.ts - add hooks and restore snapshots without Unicorn's full TB flush (its first call commits ~1 GB per engine)

import type { Machine } from '../../emu/machine/index.ts';
import type { Engine } from '../../emu/types.ts';
import { Prot } from '../../emu/types.ts';

/** An address range [lo, hi). */
export interface Range {
  lo: bigint;
  hi: bigint;
}

/** Every executable region of the machine: the only places translated blocks can come from. */
export function executableRanges(m: Machine): Range[] {
  return m.mem.regions.filter((r) => (r.perms & Prot.EXEC) !== 0).map((r) => ({ lo: r.base, hi: r.base + BigInt(r.size) }));
}

/**
 * Run `fn` with each engine's tbFlush() replaced by dropping the translations
 * of `ranges` only (uc_ctl TB_REMOVE_CACHE). Engine.addCodeHook and
 * Machine.restore flush every translation; on Unicorn 2.0.1 the first full
 * flush of an engine takes seconds and grows the process by ~1 GB (measured:
 * VmRSS 110 MB -> 1.15 GB), while invalidating the ranges that matter costs
 * under a millisecond and has the same effect on hooks (a hook is compiled
 * into blocks translated after the range was dropped).
 */
export function withRangeFlush<T>(engines: readonly Engine[], ranges: readonly Range[], fn: () => T): T {
  const patched = engines.map((e) => {
    const own = Object.getOwnPropertyDescriptor(e, 'tbFlush');
    e.tbFlush = () => {
      for (const r of ranges) e.tbRemoveCache(r.lo, r.hi);
    };
    return { e, own };
  });
  try {
    return fn();
  } finally {
    for (const { e, own } of patched) {
      if (own) Object.defineProperty(e, 'tbFlush', own);
      else delete (e as { tbFlush?: unknown }).tbFlush;
    }
  }
}

/** withRangeFlush over the machine's vCPU engines and executable regions. */
export function withMachineFlush<T>(m: Machine, fn: () => T): T {
  return withRangeFlush(m.vcpus.map((v) => v.engine), executableRanges(m), fn);
}
