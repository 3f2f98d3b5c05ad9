// klpHarness.ts - livepatch/module test kit: sample .ko paths, booted systems, task forging, machine fingerprints, ELF mutation
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSystem, type System } from '../../src/system.ts';
import type { BootOptions } from '../../src/kernel/boot.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import type { TaskView } from '../../src/kernel/tasks.ts';
import type { GuestMemory } from '../../emu/machine/index.ts';
import { loadImage } from '../../src/kernel/loadImage.ts';
import { buildModuleFile, modulePrelude, MODULES_SRC } from '../../src/module/sources.ts';
import { buildModule } from '../../src/module/build.ts';
import { TEST_MODULES } from '../../src/selftests/functions.ts';
import { readElf, readRelas, SHT_RELA } from '../../src/elf/index.ts';
import { MemoryMap, TASK, TIF } from '../../src/abi/layout.ts';
import { showStack, switchedOutTask } from '../../src/unwind/index.ts';

export const SECOND = 1_000_000_000n;
export const MS = 1_000_000n;
export const DEFAULT_CMDLINE_OUT = 'BOOT_IMAGE=/boot/vmlinuz-6.6.0-klpemu root=/dev/vda ro console=ttyS0\n';
export const SAMPLE_OUT = 'this has been live patched\n';

let scratch: string | undefined;
const built = new Map<string, string>();
/** A per-process temporary directory for built or mutated .ko files. */
export function scratchDir(): string {
  scratch ??= mkdtempSync(join(tmpdir(), 'klp-harness-'));
  return scratch;
}

/** Delete the scratch directory (call from afterAll; vitest may end a worker without 'exit'). */
export function removeScratch(): void {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
  built.clear();
}

/**
 * Path of a sample module (`livepatch-sample.ko`): the build-kernel output when
 * present, else assembled in memory against the on-disk vmlinux and written to scratch.
 */
export function koPath(file: string): string {
  const onDisk = join(TEST_MODULES, file);
  if (existsSync(onDisk)) return onDisk;
  let p = built.get(file);
  if (!p) {
    const { ko } = buildModuleFile(join(MODULES_SRC, file.replace(/\.ko$/, '.S')), loadImage());
    p = join(scratchDir(), file);
    writeFileSync(p, ko);
    built.set(file, p);
  }
  return p;
}

export function koBytes(file: string): Buffer {
  return readFileSync(koPath(file));
}

let meminfoVariant: Buffer | undefined;
/**
 * livepatch-meminfo-string built from its shipped source with one more line,
 * `KLP_SYM vmlinux boot_params 0`: the shipped .ko refers to the unexported
 * boot_params as an ordinary undefined symbol and cannot load (see klpRelocs.spec.ts).
 */
export function meminfoStringResolvable(): Buffer {
  if (!meminfoVariant) {
    const path = join(MODULES_SRC, 'livepatch-meminfo-string.S');
    const text = readFileSync(path, 'utf8').replace('KLP_SYM vmlinux show_val_kb 1', 'KLP_SYM vmlinux show_val_kb 1\nKLP_SYM vmlinux boot_params 0');
    const image = loadImage();
    meminfoVariant = buildModule('livepatch-meminfo-string.S', text, new Set(image.symbols.map((s) => s.name)), modulePrelude());
  }
  return meminfoVariant;
}

/** Write mutated module bytes to scratch under `file` (insmod prints this path). */
export function writeKo(file: string, bytes: Uint8Array): string {
  const p = join(scratchDir(), file);
  writeFileSync(p, bytes);
  return p;
}

/** createSystem: deterministic, 2 vCPUs, seed 7 unless overridden. */
export function bootSystem(opts: BootOptions = {}): System {
  return createSystem({ mode: 'deterministic', cpus: 2, seed: 7, ...opts });
}

/** Run a shell line; returns the result (tests assert status and texts). */
export function sh(sys: System, line: string): { out: string; err: string; status: number } {
  return sys.shell.run(line);
}

/** dmesg lines without timestamps. */
export function dmesgLines(sys: System): string[] {
  return sys.kernel.dmesg().map((l) => l.replace(/^\[\s*\d+\.\d{6}\] /, ''));
}

/** dmesg lines (without timestamps) that appeared after `from` lines. */
export function dmesgSince(sys: System, from: number): string[] {
  return dmesgLines(sys).slice(from);
}

export function task(k: Kernel, comm: string): TaskView {
  const t = k.tasks().find((x) => x.comm === comm);
  if (!t) throw new Error(`no task ${comm}`);
  return t;
}

/** Fresh view of a task (patch_state, flags change under us). */
export function reread(k: Kernel, t: TaskView): TaskView {
  const all = [...k.tasks(), ...k.idleTasks()];
  return all.find((x) => x.addr === t.addr)!;
}

export function hasPatchPending(k: Kernel, t: TaskView): boolean {
  return ((k.machine.mem.readU64(t.addr + BigInt(TASK.flags)) >> BigInt(TIF.PATCH_PENDING)) & 1n) === 1n;
}

/** Forge a task's livepatch state in guest memory: patch_state and TIF_PATCH_PENDING. */
export function forgePatchState(k: Kernel, t: TaskView, state: number, pending: boolean): void {
  const mem = k.machine.mem;
  mem.writeI32(t.addr + BigInt(TASK.patch_state), state);
  const a = t.addr + BigInt(TASK.flags);
  const bit = 1n << BigInt(TIF.PATCH_PENDING);
  mem.writeU64(a, pending ? mem.readU64(a) | bit : mem.readU64(a) & ~bit);
}

export function setCmdlineDelay(k: Kernel, ms: number): void {
  k.machine.mem.writeU64(k.sym('cmdline_proc_delay_ms'), BigInt(ms));
}

/** What the cat_cmdline task last read from /proc/cmdline (user_cat_buf, user_cat_len bytes). */
export function catBuffer(k: Kernel): string {
  const len = Number(BigInt.asIntN(64, k.machine.mem.readU64(k.sym('user_cat_len'))));
  return len > 0 ? k.machine.mem.read(k.sym('user_cat_buf'), len).toString('latin1') : '';
}

export function catReads(k: Kernel): bigint {
  return k.machine.mem.readU64(k.sym('user_cat_reads'));
}

/** Run until cat_cmdline finished one more read of /proc/cmdline (false on timeout). */
export function nextCatRead(k: Kernel, maxNs = 2n * SECOND): boolean {
  const n = catReads(k);
  return k.runUntil(() => catReads(k) !== n, maxNs);
}

/** `cat /proc/<pid>/patch_state` through the shell, as a number. */
export function procPatchState(sys: System, pid: number): number {
  const r = sys.shell.run(`cat /proc/${pid}/patch_state`);
  if (r.status !== 0) throw new Error(r.err);
  return Number(r.out.trim());
}

/** The stack slot (address) holding a sleeping task's return address into `fn`. */
export function returnSlotInto(k: Kernel, t: TaskView, fn: string): bigint {
  const s = showStack(k.machine.mem, switchedOutTask({ stack: t.stack, sp: t.sp }), { isKernelText: (ip) => k.isKernelText(ip) });
  const f = s.frames.find((x) => k.kallsyms.find(x.ip)?.name === fn);
  if (!f) throw new Error(`${t.comm}: no frame returning into ${fn}: ${s.frames.map((x) => k.kallsyms.symbolize(x.ip)).join(' < ')}`);
  return f.fp + 8n;
}

/**
 * Make ksleeper's stack unreliable (a non-text return address in the frame returning into
 * ret_from_fork, which sleeper_thread never uses), holding any transition open.
 * Boot with nrSleepers >= 1. Returns the function that restores the original value.
 */
export function forgeSleeperStack(k: Kernel): () => void {
  const slot = returnSlotInto(k, task(k, 'ksleeper'), 'ret_from_fork');
  const orig = k.machine.mem.readU64(slot);
  k.machine.mem.writeU64(slot, MemoryMap.DIRECT_MAP + 0x1000n);
  return () => k.machine.mem.writeU64(slot, orig);
}

/** Record every guest call of a kernel function: vCPU, the task passed in RDI, the caller. */
export function traceCalls(k: Kernel, fn: string): { cpu: number; pid: number; comm: string; caller: string; pendingBefore: boolean }[] {
  const at = k.sym(fn);
  const mem = k.machine.mem;
  const calls: { cpu: number; pid: number; comm: string; caller: string; pendingBefore: boolean }[] = [];
  for (const v of k.machine.vcpus) {
    v.engine.addCodeHook(() => {
      const [rdi, rsp] = v.engine.regReadBatch(['rdi', 'rsp']) as [bigint, bigint];
      const ret = mem.readU64(rsp);
      calls.push({
        cpu: v.id, pid: mem.readI32(rdi + BigInt(TASK.pid)), comm: mem.readCString(rdi + BigInt(TASK.comm), 16),
        caller: k.kallsyms.find(ret)?.name ?? `0x${ret.toString(16)}`,
        pendingBefore: ((mem.readU64(rdi + BigInt(TASK.flags)) >> BigInt(TIF.PATCH_PENDING)) & 1n) === 1n,
      });
    }, at, at);
  }
  return calls;
}

/** Everything a rejected insmod must leave untouched. */
export interface MachineFingerprint {
  /** sha256 of the whole module area (MODULES_VADDR, MODULES_SIZE bytes). */
  moduleArea: string;
  kernelText: Buffer[];
  lsmod: string;
  kallsyms: number;
  sysModule: string;
  textRanges: number;
  livepatchDir: string;
  /** tracefs available_filter_functions and enabled_functions (ftrace records of modules). */
  ftrace: string;
}

/** sha256 of guest memory [addr, addr+size), hashed in place (a 64 MiB copy costs seconds on a loaded host). */
export function sha256(mem: GuestMemory, addr: bigint, size: number): string {
  const r = mem.find(addr, size);
  if (!r) throw new Error(`0x${addr.toString(16)}+${size} is not mapped`);
  const off = Number(addr - r.base);
  return createHash('sha256').update(r.buf.subarray(off, off + size)).digest('hex');
}

export function fingerprint(sys: System): MachineFingerprint {
  const k = sys.kernel;
  const mem = k.machine.mem;
  return {
    moduleArea: sha256(mem, MemoryMap.MODULES_VADDR, Number(MemoryMap.MODULES_SIZE)),
    kernelText: k.image.sections.filter((s) => s.exec && s.addr >= MemoryMap.KERNEL_TEXT).map((s) => Buffer.from(mem.read(s.addr, s.size))),
    lsmod: sys.shell.run('lsmod').out,
    kallsyms: k.kallsyms.all().length,
    sysModule: sys.shell.run('ls /sys/module').out,
    textRanges: k.textRanges.length,
    livepatchDir: sys.shell.run('ls /sys/kernel/livepatch').out,
    ftrace: sys.shell.run('cat /sys/kernel/tracing/available_filter_functions /sys/kernel/tracing/enabled_functions').out,
  };
}

/** Field names that differ between two fingerprints ([] = byte-for-byte the same machine). */
export function fingerprintDiff(a: MachineFingerprint, b: MachineFingerprint): string[] {
  const out: string[] = [];
  if (a.moduleArea !== b.moduleArea) out.push('moduleArea');
  if (a.kernelText.length !== b.kernelText.length || a.kernelText.some((t, i) => !t.equals(b.kernelText[i]!))) out.push('kernelText');
  for (const key of ['lsmod', 'kallsyms', 'sysModule', 'textRanges', 'livepatchDir', 'ftrace'] as const) if (a[key] !== b[key]) out.push(key);
  return out;
}

// ---- ELF mutation ----------------------------------------------------------

/** File offset of a section's contents. */
export function sectionOffset(ko: Uint8Array, name: string): { offset: number; size: number; index: number } {
  const s = readElf(ko).sections.find((x) => x.name === name);
  if (!s) throw new Error(`no section ${name}`);
  return { offset: s.offset, size: s.size, index: s.index };
}

/** File offset of a symbol's name string in .strtab. */
export function symbolNameOffset(ko: Uint8Array, name: string): number {
  const f = readElf(ko);
  const st = f.sections[f.symtabIndex]!;
  const strtab = f.sections[st.link]!;
  const sym = f.symbols.find((s) => s.name === name);
  if (!sym) throw new Error(`no symbol ${name}`);
  const nameOff = Buffer.from(ko.buffer, ko.byteOffset, ko.byteLength).readUInt32LE(st.offset + sym.index * 24);
  return strtab.offset + nameOff;
}

/** Replace a same-length string in the file (a symbol name, a modinfo entry). */
export function replaceString(ko: Uint8Array, from: string, to: string, at?: number): Buffer {
  if (from.length !== to.length) throw new Error('same length only');
  const b = Buffer.from(ko);
  const i = at ?? b.indexOf(Buffer.from(from, 'latin1'));
  if (i < 0 || b.toString('latin1', i, i + from.length) !== from) throw new Error(`no ${from}`);
  b.write(to, i, 'latin1');
  return b;
}

/** The relocations of a rela section with the file offset of each entry. */
export function relaEntries(ko: Uint8Array, relaName: string): { fileOff: number; offset: bigint; type: number; sym: string; addend: bigint }[] {
  const f = readElf(ko);
  const sec = f.sections.find((s) => s.name === relaName && s.type === SHT_RELA);
  if (!sec) throw new Error(`no ${relaName}`);
  return readRelas(f, sec).map((r, i) => ({ fileOff: sec.offset + i * 24, offset: r.offset, type: r.type, sym: f.symbols[r.sym]!.name, addend: r.addend }));
}
