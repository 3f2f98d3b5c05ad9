// ftraceKit.ts - ftrace test kit: boot + attachFtrace, guest ops/handlers, a seeded PRNG and a site monitor (torn/stale/behaviour oracle)

import { bootTest } from './kernelImage.ts';
import { attachFtrace, type Ftrace, type Tracefs } from '../../src/ftrace/index.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import type { BootOptions } from '../../src/kernel/boot.ts';
import { BP_PATCHING, FTRACE_NOP, FTRACE_OPS, MCOUNT_INSN_SIZE, Opcode, PT_REGS, TEXT_POKE_LOC } from '../../src/abi/layout.ts';

export interface FtraceKernel {
  k: Kernel;
  ftrace: Ftrace;
  tracefs: Tracefs;
}

/** Boot the in-memory image (deterministic) and attach ftrace + tracefs. */
export function bootFtrace(opts: BootOptions = {}): FtraceKernel {
  const k = bootTest(opts);
  return { k, ...attachFtrace(k) };
}

/**
 * Boot with every user task a getpid loop: user_cat_loop is redirected to
 * user_getpid_loop before the first instruction runs (round-robin placement
 * puts the even-numbered getpid tasks on every other CPU otherwise), so with
 * nrUserTasks >= cpus every vCPU calls __x64_sys_getpid in a loop.
 */
export function bootGetpidEverywhere(opts: BootOptions = {}): FtraceKernel {
  const k = bootTest({ nrUserTasks: 2 * (opts.cpus ?? 1), ...opts, noRun: true });
  const from = k.sym('user_cat_loop');
  const jmp = Buffer.alloc(5);
  jmp[0] = Opcode.JMP32;
  jmp.writeInt32LE(Number(k.sym('user_getpid_loop') - (from + 5n)), 1);
  k.machine.mem.write(from, jmp);
  if (!k.machine.runUntil(() => k.bootDone, { maxNs: 5_000_000_000n })) throw new Error(`boot failed\n${k.dmesg().join('\n')}`);
  return { k, ...attachFtrace(k) };
}

/**
 * int3s delivered on a vCPU whose poke_int3_handler has not run yet. drain()
 * runs the machine until there are none: the wait text_poke_bp_batch does on
 * bp_desc.refs before it clears bp_desc (a CPU inside the int3 handler holds a
 * reference and, with IRQs off, also holds up the sync IPI).
 */
export class Int3Tracker {
  readonly inFlight = new Set<number>();
  delivered = 0;
  handled = 0;

  constructor(private readonly k: Kernel) {
    k.machine.onDeliver.push((v, vec) => {
      if (vec !== 3) return;
      this.delivered++;
      this.inFlight.add(v.id);
    });
    const pih = k.sym('poke_int3_handler');
    for (const v of k.machine.vcpus) {
      v.engine.addCodeHook(() => {
        this.handled++;
        this.inFlight.delete(v.id);
      }, pih, pih);
    }
  }

  reset(): void {
    this.inFlight.clear();
    this.delivered = this.handled = 0;
  }

  drain(): void {
    if (!this.k.machine.runUntil(() => this.inFlight.size === 0, { maxNs: 50_000_000n })) throw new Error('int3 handler never ran');
  }
}

/** mulberry32: a small seeded PRNG for run lengths between patch phases. */
export function prng(seed: number): (lo: number, hi: number) => number {
  let a = seed >>> 0;
  return (lo, hi) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return lo + Math.floor(r * (hi - lo + 1));
  };
}

/** The kernel's .text: the image's bytes and what guest memory holds now. */
export function textSection(k: Kernel): { addr: bigint; image: Buffer; now: () => Buffer } {
  const s = k.image.sections.find((x) => x.name === '.text');
  if (!s) throw new Error('no .text section');
  return { addr: s.addr, image: Buffer.from(s.data), now: () => k.machine.mem.read(s.addr, s.size) };
}

/** Allocate an ftrace_ops in the vmalloc area with `func` and `flags` written. */
export function newOps(k: Kernel, func: bigint, flags = 0): bigint {
  const ops = k.vmalloc.alloc(FTRACE_OPS.SIZE, 16n);
  k.machine.mem.write(ops, new Uint8Array(FTRACE_OPS.SIZE));
  k.machine.mem.writeU64(ops + BigInt(FTRACE_OPS.func), func);
  k.machine.mem.writeU64(ops + BigInt(FTRACE_OPS.flags), BigInt(flags));
  return ops;
}

/**
 * A guest ftrace handler in the module area: `lock inc qword [rip+counter]; ret`,
 * known to kallsyms as `name` (obj ftrace_test). Returns its address and a counter reader.
 */
export function counterHandler(k: Kernel, name = 'test_ftrace_handler'): { addr: bigint; count: () => bigint } {
  const addr = k.moduleArea.alloc(32, 16n);
  const counter = addr + 16n;
  const code = Buffer.from([0xf0, 0x48, 0xff, 0x05, 0, 0, 0, 0, 0xc3]);
  code.writeInt32LE(Number(counter - (addr + 8n)), 4);
  k.machine.mem.write(addr, code);
  k.machine.mem.writeU64(counter, 0n);
  k.kallsyms.add({ name, addr, size: code.length, type: 'func', global: true, obj: 'ftrace_test' });
  return { addr, count: () => k.machine.mem.readU64(counter) };
}

export const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
const eq = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

export type SiteState = 'nop' | 'call' | 'int3' | 'torn';

/** One function entry through the site, resolved when the body (site + 5) runs on the same stack. */
interface Entry {
  cpu: number;
  rsp: bigint;
  state: SiteState;
  expectCall: boolean;
  calls: number;
}

/** ftrace_caller / ftrace_regs_caller / trampolines: RSP at handler entry + this = RSP at the traced function's entry. */
const HANDLER_TO_ENTRY_RSP = BigInt(PT_REGS.SIZE + 40 + 16);

/**
 * Code hooks on every vCPU over [site, site+6) and on the handler's first byte.
 * - torn: an instruction starts inside the site, or the site's bytes are not
 *   nop | call to a trampoline | int3 + (nop tail | call tail), or the executed
 *   instruction length fits neither 5 (nop/call) nor 1 (int3).
 * - stale: valid bytes in memory, but the executed instruction's length is the other state's.
 * - behaviour: each entry's handler calls (0 or 1) must match what the bytes
 *   in memory say: nop -> 0, call -> 1, int3 -> bp_desc's opcode for the site.
 */
export class SiteMonitor {
  readonly torn: string[] = [];
  readonly mismatches: string[] = [];
  readonly unmatchedHandler: string[] = [];
  /** Executions whose translated length disagrees with the (valid) bytes in memory: stale code. */
  readonly staleInsns: string[] = [];
  /** Resolved entries by the state of the bytes at entry; staleCalls: entries over a call whose handler did not run. */
  readonly byState: Record<SiteState, number> = { nop: 0, call: 0, int3: 0, torn: 0 };
  staleCalls = 0;
  readonly perCpuHits: number[];
  handlerHits = 0;
  resolved = 0;
  private readonly pending: Entry[][];
  private readonly targets: () => bigint[];
  private readonly hooks: { remove(): void }[] = [];

  constructor(private readonly fk: FtraceKernel, readonly site: bigint, readonly handler: bigint) {
    const { k, ftrace } = fk;
    const fixed = [k.sym('ftrace_caller'), k.sym('ftrace_regs_caller')];
    this.targets = () => [...fixed, ...[...ftrace.ops.values()].flatMap((s) => (s.trampoline ? [s.trampoline.addr] : []))];
    this.pending = k.machine.vcpus.map(() => []);
    this.perCpuHits = k.machine.vcpus.map(() => 0);
    for (const v of k.machine.vcpus) {
      this.hooks.push(v.engine.addCodeHook((a, size) => this.onSite(v.id, a, size), site, site + BigInt(MCOUNT_INSN_SIZE)));
      this.hooks.push(v.engine.addCodeHook(() => this.onHandler(v.id), handler, handler));
    }
  }

  remove(): void {
    for (const h of this.hooks) h.remove();
  }

  /** Forget everything seen (after Machine.restore: in-flight entries belong to another past). */
  reset(): void {
    for (const a of [this.torn, this.mismatches, this.unmatchedHandler, this.staleInsns, ...this.pending]) a.length = 0;
    for (const k of Object.keys(this.byState) as SiteState[]) this.byState[k] = 0;
    this.perCpuHits.fill(0);
    this.staleCalls = this.handlerHits = this.resolved = 0;
  }

  /** Classify the 5 bytes at the site now. */
  classify(b: Uint8Array): SiteState {
    const tailOk = (t: Uint8Array): boolean => eq(t, FTRACE_NOP.subarray(1)) || this.targets().some((x) => eq(t, callBytes(this.site, x).subarray(1)));
    if (eq(b, FTRACE_NOP)) return 'nop';
    if (b[0] === Opcode.CALL && this.targets().some((x) => eq(b, callBytes(this.site, x)))) return 'call';
    if (b[0] === Opcode.INT3 && tailOk(b.subarray(1))) return 'int3';
    return 'torn';
  }

  /** bp_desc's opcode for the site (what poke_int3_handler emulates), or undefined. */
  private bpOpcode(): number | undefined {
    const mem = this.fk.k.machine.mem;
    const desc = this.fk.k.sym('bp_desc');
    const vec = mem.readU64(desc + BigInt(BP_PATCHING.vec));
    const n = Number(mem.readU64(desc + BigInt(BP_PATCHING.nr_entries)));
    for (let i = 0; vec !== 0n && i < n; i++) {
      const at = vec + BigInt(i * TEXT_POKE_LOC.SIZE);
      if (mem.readU64(at + BigInt(TEXT_POKE_LOC.addr)) === this.site) return mem.readU8(at + BigInt(TEXT_POKE_LOC.opcode));
    }
    return undefined;
  }

  private onSite(cpu: number, a: bigint, size: number): void {
    const k = this.fk.k;
    const rsp = k.machine.vcpus[cpu]!.engine.regRead('rsp');
    const body = this.site + BigInt(MCOUNT_INSN_SIZE);
    if (a === body) return this.onBody(cpu, rsp);
    const bytes = k.machine.mem.read(this.site, MCOUNT_INSN_SIZE);
    if (a !== this.site) {
      this.torn.push(`cpu${cpu} executes +${a - this.site} inside the site [${hex(bytes)}]`);
      return;
    }
    this.perCpuHits[cpu]!++;
    const state = this.classify(bytes);
    if (state === 'torn') this.torn.push(`cpu${cpu} executes [${hex(bytes)}]`);
    else if (size !== (state === 'int3' ? 1 : MCOUNT_INSN_SIZE)) this.staleInsns.push(`cpu${cpu} executes a ${size}-byte translation of the site over [${hex(bytes)}]`);
    const expectCall = state === 'call' || (state === 'int3' && this.bpOpcode() === Opcode.CALL);
    this.pending[cpu]!.push({ cpu, rsp, state, expectCall, calls: 0 });
  }

  private onHandler(cpu: number): void {
    this.handlerHits++;
    const rsp = this.fk.k.machine.vcpus[cpu]!.engine.regRead('rsp');
    const top = this.pending[cpu]!.at(-1);
    if (!top || top.rsp !== rsp + HANDLER_TO_ENTRY_RSP) {
      this.unmatchedHandler.push(`cpu${cpu} handler at rsp ${rsp.toString(16)} with no entry`);
      return;
    }
    top.calls++;
  }

  private onBody(cpu: number, rsp: bigint): void {
    const stack = this.pending[cpu]!;
    let i = stack.length - 1;
    while (i >= 0 && stack[i]!.rsp !== rsp) i--;
    if (i < 0) {
      this.mismatches.push(`cpu${cpu} body at rsp ${rsp.toString(16)} without an entry`);
      return;
    }
    const [e] = stack.splice(i, 1);
    this.resolved++;
    this.byState[e!.state]++;
    if (e!.state === 'call' && e!.calls === 0) this.staleCalls++;
    if (e!.calls !== (e!.expectCall ? 1 : 0)) this.mismatches.push(`cpu${cpu} entry over ${e!.state}: handler ran ${e!.calls}x, expected ${e!.expectCall ? 1 : 0}`);
  }
}

/** `call target` encoded at ip. */
export function callBytes(ip: bigint, target: bigint): Uint8Array {
  const b = Buffer.alloc(MCOUNT_INSN_SIZE);
  b[0] = Opcode.CALL;
  b.writeInt32LE(Number(BigInt.asIntN(32, target - (ip + BigInt(MCOUNT_INSN_SIZE)))), 1);
  return b;
}

/** The call target of `e8 rel32` at ip, or undefined for other bytes. */
export function callTarget(k: Kernel, ip: bigint): bigint | undefined {
  const b = k.machine.mem.read(ip, MCOUNT_INSN_SIZE);
  if (b[0] !== Opcode.CALL) return undefined;
  return BigInt.asUintN(64, ip + BigInt(MCOUNT_INSN_SIZE) + BigInt(b.readInt32LE(1)));
}
