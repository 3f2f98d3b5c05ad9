// faultPc.ts - find the instruction that made an invalid access (Unicorn reports the block start)
//
// On an unmapped or protected access Unicorn 2.0.1 stops with RIP at the start
// of the translated block; the instructions before the faulting one have
// already been committed (registers and memory). So decode forward from the
// block start and pick the first instruction whose memory operand, evaluated
// with the current registers, covers the faulting address; stack operations
// (push/call/pop/ret) and string operations count as accesses at RSP/RDI/RSI.

import { Capstone, Const, loadCapstone } from 'capstone-wasm';
import type { Engine, X86Reg } from '../types.ts';
import type { GuestMemory } from './memory.ts';

await loadCapstone();
const cs = new Capstone(Const.CS_ARCH_X86, Const.CS_MODE_64);

const REG64: Record<string, X86Reg> = {
  rax: 'rax', rbx: 'rbx', rcx: 'rcx', rdx: 'rdx', rsi: 'rsi', rdi: 'rdi', rbp: 'rbp', rsp: 'rsp',
  r8: 'r8', r9: 'r9', r10: 'r10', r11: 'r11', r12: 'r12', r13: 'r13', r14: 'r14', r15: 'r15',
};

/** Effective address of the first `[...]` operand in capstone's Intel text, or undefined. */
function effectiveAddress(e: Engine, opStr: string, next: bigint): bigint | undefined {
  const m = /(?:(fs|gs):)?\[([^\]]+)\]/.exec(opStr);
  if (!m) return undefined;
  let ea = m[1] === 'gs' ? e.regRead('gs_base') : m[1] === 'fs' ? e.regRead('fs_base') : 0n;
  for (const raw of m[2]!.replace(/\s+/g, '').replace(/-/g, '+-').split('+')) {
    if (!raw) continue;
    const neg = raw.startsWith('-');
    const term = neg ? raw.slice(1) : raw;
    const [base, scale] = term.split('*');
    let v: bigint;
    if (base === 'rip') v = next;
    else if (REG64[base!]) v = e.regRead(REG64[base!]!);
    else if (/^(0x[0-9a-f]+|\d+)$/.test(base!)) v = BigInt(base!);
    else return undefined;
    if (scale) v *= BigInt(scale);
    ea += neg ? -v : v;
  }
  return BigInt.asUintN(64, ea);
}

const NO_ACCESS = /^(nop|lea|prefetch\w*|endbr64)$/;

function implicitAccess(e: Engine, mnemonic: string): bigint | undefined {
  if (/^(push|call)/.test(mnemonic)) return e.regRead('rsp') - 8n;
  if (/^(pop|ret|iret|leave)/.test(mnemonic)) return e.regRead('rsp');
  if (/^(rep )?(movs|stos|cmps|scas)/.test(mnemonic)) return e.regRead('rdi');
  if (/^(rep )?lods/.test(mnemonic)) return e.regRead('rsi');
  return undefined;
}

/**
 * @returns the address of the instruction in the block starting at `blockStart`
 * whose access covers `faultAddr`, else `blockStart`.
 */
export function faultingInsn(mem: GuestMemory, e: Engine, blockStart: bigint, faultAddr: bigint): bigint {
  if (!mem.isMapped(blockStart, 1)) return blockStart;
  const region = mem.find(blockStart)!;
  const avail = Math.min(256, Number(region.base + BigInt(region.size) - blockStart));
  let pc = blockStart;
  for (const insn of cs.disasm(mem.read(blockStart, avail), { address: 0, count: 64 })) {
    const next = pc + BigInt(insn.size);
    // nop/lea/prefetch name a memory operand but never access it (the ftrace
    // nop is `nop dword ptr [rax + rax]`: with rax = 0 it would "cover" NULL).
    const ea = NO_ACCESS.test(insn.mnemonic) ? undefined : (effectiveAddress(e, insn.opStr, next) ?? implicitAccess(e, insn.mnemonic));
    if (ea !== undefined && faultAddr >= ea && faultAddr < ea + 64n) return pc;
    if (ea !== undefined && faultAddr + 64n >= ea && faultAddr < ea + 8n) return pc;
    pc = next;
  }
  return blockStart;
}
