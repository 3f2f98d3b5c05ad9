// procfs.spec.ts - /proc files read by the guest shell task (klpsh: open/read/close syscalls) on a booted kernel
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTest, dmesgText, symU64, withKernel } from '../helpers/kernelImage.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import { catProc, shellCommand } from '../../src/kernel/klpsh.ts';
import { CMDLINE_LEN } from '../../src/abi/layout.ts';

const ENOENT = -2n;
const HEAP = 48 << 20;
const CMDLINE = 'BOOT_IMAGE=/boot/vmlinuz-6.6.0-test root=/dev/vdb rw quiet klpemu.proc=1 "x=a b"';

/** meminfo's show_val_kb: a 16-column label, the value right-aligned in 8 columns, " kB". */
const MEMINFO_LINE = /^([A-Za-z]+):( +)(\d+) kB$/;

function meminfo(out: string): Map<string, number> {
  const lines = out.split('\n');
  expect(lines.pop()).toBe('');
  const vals = new Map<string, number>();
  for (const l of lines) {
    const m = MEMINFO_LINE.exec(l);
    expect(m, `meminfo line ${JSON.stringify(l)}`).not.toBeNull();
    expect(l.length, l).toBe(16 + 8 + 3);
    expect(l.slice(16, 24), l).toBe(m![3]!.padStart(8, ' '));
    vals.set(m![1]!, Number(m![3]));
  }
  return vals;
}

describe('[kernel/procfs]: files read through the guest shell task', () => {
  let k: Kernel;
  beforeAll(() => {
    k = bootTest({ cpus: 2, seed: 3, cmdline: CMDLINE, heapSize: HEAP });
    k.machine.runFor(20_000_000n);
  });
  afterAll(() => k.machine.close());

  it('/proc/cmdline is the boot command line and a newline; status is the byte count', () => {
    const r = catProc(k, '/proc/cmdline');
    expect(r.out).toBe(`${CMDLINE}\n`);
    expect(r.status).toBe(BigInt(CMDLINE.length + 1));
    expect(dmesgText(k)).toContain(`Command line: ${CMDLINE}`);
  });

  it('/proc/meminfo: the show_val_kb format, MemTotal = heapSize / 1024, MemFree from the guest allocator', () => {
    const r = catProc(k, '/proc/meminfo');
    expect(r.status).toBe(BigInt(r.out.length));
    const v = meminfo(r.out);
    expect([...v.keys()]).toEqual(['MemTotal', 'MemFree', 'MemAvailable', 'Buffers', 'Cached']);
    expect(v.get('MemTotal')).toBe(HEAP / 1024);
    expect(r.out.startsWith(`MemTotal:       ${String(HEAP / 1024).padStart(8)} kB\n`)).toBe(true);
    // Free = the bump allocator's unused tail, in pages times 4 (kB).
    const freePages = Number((symU64(k, 'heap_end') - symU64(k, 'heap_next')) >> 12n);
    expect(v.get('MemFree')).toBe(freePages * 4);
    expect(v.get('MemFree')!).toBeGreaterThan(0);
    expect(v.get('MemFree')!).toBeLessThan(HEAP / 1024);
    expect(v.get('MemAvailable')).toBe(v.get('MemFree'));
    expect(v.get('Buffers')).toBe(0);
    expect(v.get('Cached')).toBe(0);
  });

  it('/proc/meminfo of another heap size reports that size', () => {
    const v = withKernel({ heapSize: 16 << 20 }, (small) => meminfo(catProc(small, '/proc/meminfo').out));
    expect(v.get('MemTotal')).toBe(16 * 1024);
  });

  it('/proc/vmstat: "name value" lines from the second file-local show_val_kb, in pages', () => {
    const r = catProc(k, '/proc/vmstat');
    expect(r.status).toBe(BigInt(r.out.length));
    expect(r.out).toMatch(/^nr_free_pages \d+\nnr_works_done \d+\n$/);
    const [, free, works] = /^nr_free_pages (\d+)\nnr_works_done (\d+)\n$/.exec(r.out)!;
    expect(BigInt(free!)).toBe((symU64(k, 'heap_end') - symU64(k, 'heap_next')) >> 12n);
    expect(BigInt(works!)).toBe(symU64(k, 'works_done'));
    // The same free-page count meminfo shows in kB.
    expect(meminfo(catProc(k, '/proc/meminfo').out).get('MemFree')).toBe(Number(free) * 4);
  });

  it('/proc/version is the banner dmesg starts with', () => {
    const r = catProc(k, '/proc/version');
    expect(r.out).toMatch(/^Linux version 6\.6\.0-klpemu .*\n$/);
    expect(r.out.split('\n')).toHaveLength(2);
    expect(dmesgText(k)[0]).toBe(r.out.trimEnd());
  });

  it('reads the same file repeatedly (files are closed: descriptors do not run out) and other files in between', () => {
    for (let i = 0; i < 80; i++) {
      const path = i % 3 === 0 ? '/proc/version' : '/proc/cmdline';
      const r = catProc(k, path);
      expect(r.status, `read ${i} of ${path}`).toBeGreaterThan(0n);
    }
    expect(catProc(k, '/proc/cmdline').out).toBe(`${CMDLINE}\n`);
  });

  it('an unknown shell command is refused with -ENOSYS by the task', () => {
    const r = shellCommand(k, 99, '/proc/cmdline');
    expect(r.status).toBe(-38n);
    expect(catProc(k, '/proc/cmdline').out).toBe(`${CMDLINE}\n`);
  });
});

// Regression test for a fixed bug (kernel build): keystone assembles `mov rax, -ENOENT` (ENOENT a file-local equate in
// kernel-image/proc_fs.S) as `movabs rax, ds:0x2`, a load from absolute address 2. Every error return
// of open/read/close/write faults instead: the kernel oopses in __x64_sys_open and the klpsh task dies,
// so the host's command never completes. image.spec.ts pins the same bug statically.
describe('[kernel/procfs]: a missing path', () => {
  it('fails with -ENOENT and no output, without an oops, and the shell keeps working', () => {
    withKernel({ cmdline: CMDLINE }, (k) => {
      const r = catProc(k, '/proc/nonexistent');
      expect(r.status).toBe(ENOENT);
      expect(r.out).toBe('');
      expect(k.oopses).toEqual([]);
      expect(catProc(k, '/proc/cmdline').out).toBe(`${CMDLINE}\n`);
    });
  });
});

describe('[kernel/procfs]: command line edge cases', () => {
  it('a command line of CMDLINE_LEN - 1 characters comes back whole; a longer one is cut there', () => {
    const exact = 'a='.padEnd(CMDLINE_LEN - 1, 'x');
    expect(withKernel({ cmdline: exact }, (k) => catProc(k, '/proc/cmdline').out)).toBe(`${exact}\n`);
    expect(withKernel({ cmdline: `${exact}TAIL` }, (k) => catProc(k, '/proc/cmdline').out)).toBe(`${exact}\n`);
  });

  it('an empty command line reads as a lone newline and is logged empty', () => {
    withKernel({ cmdline: '' }, (k) => {
      const r = catProc(k, '/proc/cmdline');
      expect(r.out).toBe('\n');
      expect(r.status).toBe(1n);
      expect(dmesgText(k)).toContain('Command line: ');
    });
  });
});
