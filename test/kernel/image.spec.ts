// image.spec.ts - rules over the kernel built from kernel-image/*.S: ftrace nops and __mcount_loc, notrace code, file-local symbols, binutils, reproducibility
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { KERNEL_BUILD_DIR, KERNEL_SRC_DIR, kernelBuild } from '../helpers/kernelImage.ts';
import { linkKernel, readSources, type BuildResult } from '../../src/build/vmlinux.ts';
import { selfCheck } from '../../src/build/selfCheck.ts';
import type { KernelImage } from '../../src/kernel/image.ts';
import { FTRACE_NOP, MCOUNT_INSN_SIZE, MemoryMap } from '../../src/abi/layout.ts';

const NOTRACE = [
  'entry_SYSCALL_64', '__schedule', 'schedule', 'schedule_idle', '__switch_to_asm', 'ret_from_fork_asm', 'do_idle',
  'ftrace_caller', 'ftrace_regs_caller', 'ftrace_stub', 'ftrace_ops_list_func', 'klp_ftrace_handler', 'klp_update_patch_state', 'poke_int3_handler',
];
const TRACED = ['cmdline_proc_show', 'meminfo_proc_show', 'vmstat_show', 'version_proc_show', 'seq_puts', 'msleep_interruptible'];

let build: BuildResult;
let image: KernelImage;
let dir: string;
let vmlinux: string;

function bytesAt(addr: bigint, n: number): Buffer {
  const s = image.sections.find((x) => addr >= x.addr && addr + BigInt(n) <= x.addr + BigInt(x.data.length));
  if (!s) throw new Error(`0x${addr.toString(16)} is not in a loaded section`);
  return Buffer.from(s.data.subarray(Number(addr - s.addr), Number(addr - s.addr) + n));
}
const startsWithNop = (addr: bigint): boolean => bytesAt(addr, MCOUNT_INSN_SIZE).equals(Buffer.from(FTRACE_NOP));
const funcs = (name: string) => image.symbols.filter((s) => s.name === name && s.type === 'func');

/** Run a binutils tool on the temp vmlinux; it must exit 0 and say nothing that looks like a warning. */
function tool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, [...args, vmlinux], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  expect(r.status, `${cmd} ${args.join(' ')}: ${r.stderr}`).toBe(0);
  expect(r.stderr).not.toMatch(/warning/i);
  expect(r.stderr).toBe('');
  return r.stdout;
}

beforeAll(() => {
  ({ build, image } = kernelBuild());
  dir = mkdtempSync(join(tmpdir(), 'klpemu-image-'));
  vmlinux = join(dir, 'vmlinux');
  writeFileSync(vmlinux, build.elf);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('[kernel/image]: ftrace rules', () => {
  it('selfCheck finds nothing wrong', () => {
    expect(selfCheck(image)).toEqual([]);
  });

  it('every __mcount_loc entry is the entry of a traceable function and holds 0f 1f 44 00 00', () => {
    expect(image.mcountLoc.length).toBeGreaterThan(40);
    expect(new Set(image.mcountLoc).size).toBe(image.mcountLoc.length);
    const entries = new Map(image.symbols.filter((s) => s.type === 'func' && !s.code).map((s) => [s.addr, s]));
    for (const ip of image.mcountLoc) {
      const f = entries.get(ip);
      expect(f, `0x${ip.toString(16)}`).toBeDefined();
      expect(f!.addr).toBeGreaterThanOrEqual(MemoryMap.KERNEL_TEXT);
      expect(bytesAt(ip, 5).toString('hex'), f!.name).toBe('0f1f440000');
    }
    // ...and conversely, a function starting with the nop is listed.
    const listed = new Set(image.mcountLoc);
    for (const f of entries.values()) if (f.addr >= MemoryMap.KERNEL_TEXT && startsWithNop(f.addr)) expect(listed.has(f.addr), f.name).toBe(true);
  });

  it('entry code, the scheduler core, idle and the ftrace/livepatch trampolines are not traceable', () => {
    const stubs = image.symbols.filter((s) => /^asm_(exc|sysvec)_/.test(s.name)).map((s) => s.name);
    expect(stubs).toEqual(expect.arrayContaining(['asm_exc_page_fault', 'asm_exc_int3', 'asm_sysvec_apic_timer_interrupt']));
    const listed = new Set(image.mcountLoc);
    for (const name of [...NOTRACE, ...stubs]) {
      const [f, ...more] = funcs(name);
      expect(f, `${name} exists`).toBeDefined();
      expect(more, name).toEqual([]);
      expect(listed.has(f!.addr), `${name} in __mcount_loc`).toBe(false);
      expect(startsWithNop(f!.addr), `${name} starts with the ftrace nop`).toBe(false);
    }
  });

  it('the /proc show functions and ordinary kernel functions are traceable', () => {
    const listed = new Set(image.mcountLoc);
    for (const name of TRACED) {
      const f = funcs(name);
      expect(f, name).toHaveLength(1);
      expect(listed.has(f[0]!.addr), name).toBe(true);
    }
  });

  it('two LOCAL functions named show_val_kb exist, one per /proc file, both traceable', () => {
    const svk = funcs('show_val_kb');
    expect(svk).toHaveLength(2);
    expect(svk.every((s) => !s.global)).toBe(true);
    expect(svk[0]!.addr).not.toBe(svk[1]!.addr);
    for (const s of svk) expect(image.mcountLoc).toContain(s.addr);
    // readelf: each sits after the STT_FILE symbol of its source, bound LOCAL.
    const rows = tool('readelf', ['-s', '-W']).split('\n').map((l) => l.trim().split(/\s+/)).filter((r) => /^\d+:$/.test(r[0] ?? ''));
    const files: string[] = [];
    let file = '';
    for (const r of rows) {
      if (r[3] === 'FILE') file = r[7] ?? '';
      if (r[7] === 'show_val_kb') {
        expect([r[3], r[4]]).toEqual(['FUNC', 'LOCAL']);
        files.push(file);
      }
    }
    expect(files.sort()).toEqual(['proc_meminfo.S', 'proc_vmstat.S']);
    expect(build.systemMap.split('\n').filter((l) => / t show_val_kb$/.test(l))).toHaveLength(2);
  });
});

describe('[kernel/image]: the ELF file', () => {
  it('readelf -a -W and objdump -d read it cleanly', () => {
    const re = tool('readelf', ['-a', '-W']);
    expect(re).toMatch(/Type:\s+EXEC/);
    expect(re).toMatch(/Machine:\s+Advanced Micro Devices X86-64/);
    for (const sec of ['.text', '.rodata', '__mcount_loc', '.data', '.bss', '.usertext', '.userdata']) expect(re).toContain(` ${sec} `);
    const od = tool('objdump', ['-d']);
    expect(od).toMatch(/<cmdline_proc_show>:\n\s*[0-9a-f]+:\s+0f 1f 44 00 00\s+nopl/);
    expect(od).not.toMatch(/\(bad\)/);
  });

  // Regression test for a fixed bug (kernel build): keystone turns `mov rax, -EQUATE` with a file-local equate into a load from an
  // absolute address (`movabs rax, ds:0x2` for -ENOENT in __x64_sys_open; also -ENOMEM, -EMFILE, -EBADF in
  // open/read/close/write). The error paths then fault; procfs.spec.ts shows the resulting oops.
  it('no instruction addresses absolute memory outside the image (mis-assembled immediates)', () => {
    const od = tool('objdump', ['-d', '-M', 'intel', '--no-show-raw-insn']);
    const bad: string[] = [];
    let fn = '';
    for (const line of od.split('\n')) {
      const head = /^[0-9a-f]+ <(.+)>:$/.exec(line);
      if (head) fn = head[1]!;
      const m = /^\s*([0-9a-f]+):\s+(.*\bds:0x([0-9a-f]+).*)$/.exec(line);
      if (!m) continue;
      const addr = BigInt(`0x${m[3]}`);
      if (!image.sections.some((s) => addr >= s.addr && addr < s.addr + BigInt(s.size))) bad.push(`${fn}: ${m[2]!.trim()}`);
    }
    expect(bad).toEqual([]);
  });
});

describe('[kernel/image]: reproducible builds', () => {
  it('linking the sources twice gives byte-identical vmlinux and System.map', () => {
    const again = linkKernel(readSources(KERNEL_SRC_DIR));
    expect(again.elf.length).toBe(build.elf.length);
    expect(Buffer.compare(again.elf, build.elf)).toBe(0);
    expect(again.systemMap).toBe(build.systemMap);
  });

  const onDisk = join(KERNEL_BUILD_DIR, 'vmlinux');
  it.skipIf(!existsSync(onDisk))('kernel-image/build/vmlinux (npm run build-kernel) is byte-identical to the in-memory build', () => {
    const disk = readFileSync(onDisk);
    expect(disk.length, 'stale kernel-image/build? run `npm run build-kernel`').toBe(build.elf.length);
    expect(Buffer.compare(disk, build.elf)).toBe(0);
    const map = join(KERNEL_BUILD_DIR, 'System.map');
    if (existsSync(map)) expect(readFileSync(map, 'utf8')).toBe(build.systemMap);
  });
});
