// faultPc.spec.ts - which instruction of a block made the invalid access (Unicorn stops with RIP at the block start)
import { describe, expect, it } from 'vitest';
import { faultingInsn } from '../../../emu/machine/faultPc.ts';
import type { GuestMemory } from '../../../emu/machine/memory.ts';
import type { Engine } from '../../../emu/types.ts';

const BASE = 0xffffffffa0000000n;

/** A block's bytes at BASE and the registers as Unicorn leaves them at the fault. */
function at(code: number[], regs: Record<string, bigint>): { mem: GuestMemory; e: Engine } {
  const bytes = Buffer.alloc(0x1000);
  Buffer.from(code).copy(bytes);
  const mem = {
    isMapped: (a: bigint) => a >= BASE && a < BASE + 0x1000n,
    find: (a: bigint) => (a >= BASE && a < BASE + 0x1000n ? { base: BASE, size: 0x1000 } : undefined),
    read: (a: bigint, n: number) => bytes.subarray(Number(a - BASE), Number(a - BASE) + n),
  } as unknown as GuestMemory;
  const e = { regRead: (r: string) => regs[r] ?? 0n } as unknown as Engine;
  return { mem, e };
}

describe('[emu/machine/faultPc]: the faulting instruction inside a block', () => {
  // nop5; push rbp; mov rbp, rsp; xor eax, eax; mov rax, [rax]
  const nullDeref = [0x0f, 0x1f, 0x44, 0x00, 0x00, 0x55, 0x48, 0x89, 0xe5, 0x31, 0xc0, 0x48, 0x8b, 0x00];

  it('a NULL load after the ftrace nop is at +0xb, not at the nop (whose [rax + rax] is 0 too)', () => {
    const { mem, e } = at(nullDeref, { rax: 0n, rsp: 0xffff888000010000n });
    expect(faultingInsn(mem, e, BASE, 0n) - BASE).toBe(0xbn);
  });

  it('lea computes an address without touching it; the store after it is the fault', () => {
    // lea rdi, [rbx + 8]; mov qword ptr [rdi], rax
    const { mem, e } = at([0x48, 0x8d, 0x7b, 0x08, 0x48, 0x89, 0x07], { rbx: 0x18n, rdi: 0x20n });
    expect(faultingInsn(mem, e, BASE, 0x20n) - BASE).toBe(4n);
  });

  it('a push onto an unmapped stack is found through RSP', () => {
    // xor eax, eax; push rbp
    const { mem, e } = at([0x31, 0xc0, 0x55], { rsp: 0x1000n });
    expect(faultingInsn(mem, e, BASE, 0xff8n) - BASE).toBe(2n);
  });

  it('no instruction covers the address: the block start', () => {
    const { mem, e } = at(nullDeref, { rax: 0n });
    expect(faultingInsn(mem, e, BASE, 0xdead0000n)).toBe(BASE);
  });
});
