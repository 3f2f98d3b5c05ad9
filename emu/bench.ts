// bench.ts - engine micro-benchmarks behind the numbers in emu/README.md (npx tsx emu/bench.ts)

import { fileURLToPath } from 'node:url';
import { createEngine } from './engine.ts';
import type { Engine } from './types.ts';
import { Prot } from './types.ts';

const CODE = 0x1000n;
/** mov ecx, N; loop: dec ecx; jnz loop; hlt — 2N + 2 instructions. */
function loopCode(n: number): Uint8Array {
  return new Uint8Array([0xb9, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff, 0xff, 0xc9, 0x75, 0xfc, 0xf4]);
}

function time(label: string, reps: number, unit: string, fn: () => void): number {
  fn(); // warm up: translate, JIT
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) fn();
  const ns = Number(process.hrtime.bigint() - t0) / reps;
  console.log(`${label.padEnd(52)} ${(ns / 1000).toFixed(3).padStart(10)} µs/${unit}`);
  return ns;
}

function fresh(code: Uint8Array): Engine {
  const e = createEngine();
  e.memMap(CODE, 0x10000, Prot.ALL);
  e.memWrite(CODE, code);
  return e;
}

function benchLoop(): void {
  const n = 5_000_000;
  const insns = 2 * n + 2;
  const e = fresh(loopCode(n));
  const free = time('tight loop, count=0', 5, 'run', () => e.emuStart(CODE, 0n, 0, 0));
  const counted = time('tight loop, count=2^31 (Unicorn adds a code hook)', 5, 'run', () => e.emuStart(CODE, 0n, 0, 2 ** 31));
  console.log(`  → ${(insns / free).toFixed(2)} G insn/s free, ${(insns / counted).toFixed(3)} G insn/s counted, ratio ${(counted / free).toFixed(1)}x`);
  e.close();
}

function benchCalls(): void {
  const e = fresh(new Uint8Array([0xf4]));
  const data = new Uint8Array(8);
  time('emuStart on a single hlt (count=0)', 100_000, 'call', () => e.emuStart(CODE, 0n, 0, 0));
  time('emuStart on a single hlt (count=1)', 100_000, 'call', () => e.emuStart(CODE, 0n, 0, 1));
  time('emuStart on a single hlt (timeout 1 s)', 20_000, 'call', () => e.emuStart(CODE, 0n, 1_000_000, 0));
  time('regRead(rax)', 1_000_000, 'call', () => e.regRead('rax'));
  time('regWrite(rax)', 1_000_000, 'call', () => e.regWrite('rax', 5n));
  const regs = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'rip', 'rflags'] as const;
  time('regReadBatch(10 regs)', 200_000, 'call', () => e.regReadBatch(regs));
  time('memRead(8)', 1_000_000, 'call', () => e.memRead(0x2000n, 8));
  time('memWrite(8)', 1_000_000, 'call', () => e.memWrite(0x2000n, data));
  time('tbRemoveCache(4 KiB)', 200_000, 'call', () => e.tbRemoveCache(0x2000n, 0x3000n));
  e.close();
}

function benchHook(): void {
  const n = 1_000_000;
  const e = fresh(loopCode(n));
  let hits = 0;
  const h = e.addCodeHook(() => { hits++; });
  const ns = time('tight loop with a global JS code hook', 3, 'run', () => e.emuStart(CODE, 0n, 0, 0));
  console.log(`  → ${(ns / (2 * n + 2)).toFixed(1)} ns per hooked instruction (${hits} calls)`);
  h.remove();
  e.close();
}

/** Print every measurement. @returns exit code 0 */
export async function main(_argv: string[]): Promise<number> {
  benchLoop();
  benchCalls();
  benchHook();
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv.slice(2));
}
