// interrupts.ts - exception and interrupt delivery through the guest IDT (Unicorn has none)

import type { Engine, MemAccess } from '../types.ts';
import type { GuestMemory } from './memory.ts';
import type { Vcpu } from './vcpu.ts';
import { EmuError } from '../errors.ts';
import { faultingInsn } from './faultPc.ts';
import { Vector, VECTORS_WITH_ERROR_CODE } from '../../src/abi/layout.ts';

const RFLAGS_IF = 1n << 9n;
const RFLAGS_TF = 1n << 8n;
const GATE_INTERRUPT = 0xe;
const GATE_TRAP = 0xf;

/** The IDT gate for `vector`: handler address and gate type. */
export function readGate(engine: Engine, mem: GuestMemory, vector: number): { handler: bigint; type: number } {
  const idtr = engine.idtrRead();
  const off = BigInt(vector * 16);
  if (off + 15n > BigInt(idtr.limit) || !mem.isMapped(idtr.base + off, 16)) {
    throw new EmuError('guest', `no IDT gate for vector ${vector}`, { address: idtr.base + off, size: 16 });
  }
  const g = mem.read(idtr.base + off, 16);
  const type = (g[5]! & 0x0f);
  const present = (g[5]! & 0x80) !== 0;
  if (!present || (type !== GATE_INTERRUPT && type !== GATE_TRAP)) {
    throw new EmuError('guest', `IDT gate ${vector} not present`, { address: idtr.base + off, size: 16 });
  }
  const handler =
    BigInt(g.readUInt16LE(0)) | (BigInt(g.readUInt16LE(6)) << 16n) | (BigInt(g.readUInt32LE(8)) << 32n);
  return { handler, type };
}

const FRAME_REGS = ['rsp', 'rflags', 'cs', 'ss'] as const;

/** The toy's user mode: code below the canonical hole (the user region). */
export const isUserAddress = (rip: bigint): boolean => rip < 0x0000_8000_0000_0000n;

/**
 * Deliver `vector` as the CPU does in 64-bit mode: align RSP to 16,
 * push SS, RSP, RFLAGS, CS, RIP (and the error code where the vector has one),
 * clear IF for an interrupt gate (and TF), jump to the handler. `rip` is the
 * address the guest's iretq returns to: the faulting instruction for faults,
 * the next instruction for traps (int3) and interrupts. When the interrupted
 * code is user code and `rsp0` is given, the frame goes on that stack instead
 * (the privilege change that loads RSP from TSS.RSP0 on real hardware).
 */
export function deliver(vcpu: Vcpu, mem: GuestMemory, vector: number, rip: bigint, errorCode = 0n, rsp0?: bigint): void {
  const e = vcpu.engine;
  let gate: { handler: bigint; type: number };
  try {
    gate = readGate(e, mem, vector);
  } catch (err) {
    // No handler: the guest cannot take this exception (a triple fault on real hardware).
    throw new EmuError('guest', `vCPU ${vcpu.id}: unhandled vector ${vector} at rip 0x${rip.toString(16)} (${(err as Error).message})`, { address: rip });
  }
  const [rsp, rflags, cs, ss] = e.regReadBatch(FRAME_REGS);
  let sp = BigInt.asUintN(64, (rsp0 !== undefined && isUserAddress(rip) ? rsp0 : rsp!) & ~0xfn);
  const push = (v: bigint): void => {
    sp = BigInt.asUintN(64, sp - 8n);
    if (!mem.isMapped(sp, 8)) throw new EmuError('guest', `stack overflow delivering vector ${vector}`, { address: sp, size: 8 });
    mem.writeU64(sp, v);
  };
  push(ss!);
  push(rsp!);
  push(rflags!);
  push(cs!);
  push(rip);
  if (VECTORS_WITH_ERROR_CODE.has(vector)) push(errorCode);
  let flags = rflags! & ~RFLAGS_TF;
  if (gate.type === GATE_INTERRUPT) flags &= ~RFLAGS_IF;
  e.regWriteBatch(['rsp', 'rflags', 'rip'], [sp, flags, gate.handler]);
  vcpu.countDelivered(vector);
}

/** Whether the vCPU accepts maskable interrupts now. */
export function interruptsEnabled(e: Engine): boolean {
  return (e.regRead('rflags') & RFLAGS_IF) !== 0n;
}

/** #PF error code bits for an access Unicorn reported (P, W/R, I/D). */
export function pageFaultErrorCode(access: MemAccess): bigint {
  const present = access.endsWith('-prot') ? 1n : 0n;
  const write = access.startsWith('write') ? 2n : 0n;
  const fetch = access.startsWith('fetch') ? 0x10n : 0n;
  return present | write | fetch;
}

/** Deliver a recorded invalid access as #PF with CR2 set. */
export function deliverPageFault(vcpu: Vcpu, mem: GuestMemory, access: MemAccess, address: bigint, rsp0?: bigint): void {
  vcpu.engine.regWrite('cr2', address);
  const rip = access.startsWith('fetch') ? address : faultingInsn(mem, vcpu.engine, vcpu.engine.regRead('rip'), address);
  deliver(vcpu, mem, Vector.PF, rip, pageFaultErrorCode(access), rsp0);
}

/** Contributory exceptions: QEMU remembers them and escalates the next one to #DF. */
export function isContributory(intno: number): boolean {
  return intno === 0 || (intno >= 10 && intno <= 13);
}
