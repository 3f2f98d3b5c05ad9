// hypercalls.ts - the one guest→host door: `int 0x82` with a number in RAX

import type { Vcpu } from './vcpu.ts';
import { HYPERCALL_VECTOR } from '../../src/abi/layout.ts';

export { HYPERCALL_VECTOR };

/** What a handler sees: the calling vCPU and the six argument registers. */
export interface HypercallContext {
  vcpu: Vcpu;
  /** RDI, RSI, RDX, R10, R8, R9 */
  args: bigint[];
}

/** Returns the value for RAX (negative errnos as bigint are fine), or void to leave RAX. */
export type HypercallHandler = (ctx: HypercallContext) => bigint | void;

const ARG_REGS = ['rax', 'rdi', 'rsi', 'rdx', 'r10', 'r8', 'r9'] as const;
const ENOSYS = 38n;

/**
 * The hypercall table. Layers register their numbers (machine, ftrace,
 * livepatch, debugger); an unknown number returns -ENOSYS as a syscall would.
 */
export class HypercallTable {
  private readonly handlers = new Map<number, { name: string; fn: HypercallHandler }>();
  /** Calls per number, for tests and benchmarks. */
  readonly counts = new Map<number, number>();

  register(nr: number, name: string, fn: HypercallHandler): void {
    if (this.handlers.has(nr)) throw new Error(`hypercall ${nr} already registered (${this.handlers.get(nr)!.name})`);
    this.handlers.set(nr, { name, fn });
  }

  unregister(nr: number): void {
    this.handlers.delete(nr);
  }

  nameOf(nr: number): string | undefined {
    return this.handlers.get(nr)?.name;
  }

  /** Dispatch from the interrupt hook of `vcpu` (vector HYPERCALL_VECTOR). */
  dispatch(vcpu: Vcpu): void {
    const regs = vcpu.engine.regReadBatch(ARG_REGS);
    const nr = Number(regs[0]! & 0xffffffffn);
    this.counts.set(nr, (this.counts.get(nr) ?? 0) + 1);
    const h = this.handlers.get(nr);
    const ret = h ? h.fn({ vcpu, args: regs.slice(1) }) : -ENOSYS;
    if (ret !== undefined) vcpu.engine.regWrite('rax', BigInt.asUintN(64, ret));
  }
}
