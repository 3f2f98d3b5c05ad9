// miniGuest.ts - a hand-assembled bare-metal guest (GDT, IDT, handlers) for machine tests

import { Keystone, Const } from 'keystone-wasm';
import { keystoneReady } from '../../emu/keystone.ts';
import { createMachine, type Machine, type MachineOptions } from '../../emu/machine/index.ts';
import { Prot } from '../../emu/types.ts';

await keystoneReady();
const ks = new Keystone(Const.KS_ARCH_X86, Const.KS_MODE_64);

export const BASE = 0x1000000n;
export const TEXT_RO = 0x1200000n;
const IDT = BASE + 0x10000n;

/** Assemble at `address`; an empty result is keystone's way of failing. */
export function asm(src: string, address: bigint): Uint8Array {
  const out = ks.asm(src, { address });
  if (out.length === 0) throw new Error(`keystone failed: ${src.slice(0, 80)}`);
  return out;
}

/**
 * Boot code every test guest starts with: load a GDT and reload CS/SS (iretq
 * needs real selectors), then the IDT at IDT. `main` follows; `handlers` may
 * define labels `h_<vector>`, counters etc. Vector gates are installed by the host.
 */
function program(main: string, handlers: string): string {
  return `
start:
  lea rax, [rip+gdtr]
  lgdt [rax]
  push 0x10
  lea rax, [rip+cs_ok]
  push rax
  retfq
cs_ok:
  mov ax, 0x18
  mov ss, ax
  lea rax, [rip+idtr]
  lidt [rax]
${main}
${handlers}
.balign 8
gdt: .quad 0, 0, 0x00af9a000000ffff, 0x00cf92000000ffff
gdtr: .word 31
  .quad gdt
idtr: .word 4095
  .quad ${IDT}
`;
}

export interface MiniGuest {
  m: Machine;
  /** Address of a label exported through `labels`. */
  sym: Record<string, bigint>;
}

/**
 * Build a machine with one RWX region at BASE running `main` on every vCPU
 * (each with its own stack), handlers wired to the vectors in `gates`, and a
 * read-only+exec page at TEXT_RO. `labels` lists labels whose addresses the
 * test needs (read back from a table appended to the program).
 */
export function miniGuest(main: string, handlers: string, gates: Record<number, string>, labels: string[], opts: MachineOptions = {}): MiniGuest {
  const m = createMachine(opts);
  m.addRegion('ram', BASE, 0x100000, Prot.ALL);
  m.addRegion('text-ro', TEXT_RO, 0x1000, Prot.READ | Prot.EXEC);
  const names = [...new Set([...labels, ...Object.values(gates)])];
  const src = program(main, handlers) + `\nlabel_table: .quad ${names.join(', ')}\n`;
  const bytes = asm(src, BASE);
  m.mem.write(BASE, bytes);
  const table = Buffer.from(bytes.slice(bytes.length - names.length * 8));
  const sym: Record<string, bigint> = {};
  names.forEach((n, i) => (sym[n] = table.readBigUInt64LE(i * 8)));
  for (const [vec, label] of Object.entries(gates)) writeGate(m, Number(vec), sym[label]!);
  m.hypercalls.register(3, 'cpu_relax', ({ vcpu }) => {
    vcpu.stopRequested = true;
  });
  for (const v of m.vcpus) {
    v.engine.regWriteBatch(['rip', 'rsp', 'rdi'], [BASE, BASE + 0x80000n + BigInt(v.id) * 0x2000n, BigInt(v.id)]);
  }
  return { m, sym };
}

/** An interrupt gate (type 0xE, present) for `vector` pointing at `handler`. */
export function writeGate(m: Machine, vector: number, handler: bigint): void {
  const g = Buffer.alloc(16);
  g.writeUInt16LE(Number(handler & 0xffffn), 0);
  g.writeUInt16LE(0x10, 2);
  g[5] = 0x8e;
  g.writeUInt16LE(Number((handler >> 16n) & 0xffffn), 6);
  g.writeUInt32LE(Number(handler >> 32n), 8);
  m.mem.write(IDT + BigInt(vector * 16), g);
}
