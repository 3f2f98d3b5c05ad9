// panic.spec.ts - tainted_mask: set by module loads, shown by /proc/sys/kernel/tainted, only ever added to
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../src/system.ts';
import { bootSystem, koPath, MS, sh } from '../helpers/klpHarness.ts';

describe('[kernel/panic]: taint', () => {
  let sys: System;
  const tainted = (): string => sh(sys, 'cat /proc/sys/kernel/tainted').out;

  beforeAll(() => {
    sys = bootSystem({ seed: 5 });
  });
  afterAll(() => sys.kernel.machine.close());

  it('an untainted kernel reads 0; a livepatch module adds O (4096) and K (32768), with their messages once', () => {
    expect(tainted()).toBe('0\n');
    expect(sh(sys, `insmod ${koPath('livepatch-sample.ko')}`).status).toBe(0);
    expect(tainted()).toBe(`${4096 + 32768}\n`);
    const dmesg = sys.kernel.dmesg().join('\n');
    expect(dmesg).toContain('livepatch_sample: loading out-of-tree module taints kernel.');
    expect(dmesg).toContain('livepatch_sample: tainting kernel with TAINT_LIVEPATCH');
    expect(sys.kernel.runUntil(() => !sys.livepatch.transition.patch, 5000n * MS)).toBe(true);
    expect(sh(sys, `insmod ${koPath('test_klp_atomic_replace.ko')} replace=0`).status).toBe(0);
    const again = sys.kernel.dmesg().join('\n');
    expect(again).not.toContain('test_klp_atomic_replace: loading out-of-tree module taints kernel.');
    expect(again).not.toContain('test_klp_atomic_replace: tainting kernel with TAINT_LIVEPATCH');
  });

  it('writing adds bits and never clears one; a bit past TAINT_FLAGS_COUNT or a word is -EINVAL', () => {
    const before = BigInt(tainted().trim());
    expect(sh(sys, 'echo 1 > /proc/sys/kernel/tainted').status).toBe(0);
    expect(BigInt(tainted().trim())).toBe(before | 1n);
    expect(sh(sys, 'echo 0 > /proc/sys/kernel/tainted').status).toBe(0);
    expect(BigInt(tainted().trim())).toBe(before | 1n);
    expect(sh(sys, 'echo 524288 > /proc/sys/kernel/tainted')).toEqual({ out: '', err: 'sh: echo: write error: Invalid argument\n', status: 1 });
    expect(sh(sys, 'echo lots > /proc/sys/kernel/tainted').status).toBe(1);
    expect(BigInt(tainted().trim())).toBe(before | 1n);
  });
});
