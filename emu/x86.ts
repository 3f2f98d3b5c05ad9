// x86.ts - x86 name tables for the engine: X86Reg → uc_x86_reg id, uc_mem_type → MemAccess

import type { MemAccess, X86Reg } from './types.ts';
import * as C from './raw/x86Const.ts';

/** MSR number of IA32_EFER: Unicorn 2.0.1 has no UC_X86_REG_EFER, so 'efer' goes through the MSR path. */
export const MSR_EFER = 0xc0000080;

/** X86Reg → uc_x86_reg id; 0 marks a register served by a special path (efer). */
export const REG_IDS: Readonly<Record<X86Reg, number>> = {
  rax: C.UC_X86_REG_RAX, rbx: C.UC_X86_REG_RBX, rcx: C.UC_X86_REG_RCX, rdx: C.UC_X86_REG_RDX,
  rsi: C.UC_X86_REG_RSI, rdi: C.UC_X86_REG_RDI, rbp: C.UC_X86_REG_RBP, rsp: C.UC_X86_REG_RSP,
  r8: C.UC_X86_REG_R8, r9: C.UC_X86_REG_R9, r10: C.UC_X86_REG_R10, r11: C.UC_X86_REG_R11,
  r12: C.UC_X86_REG_R12, r13: C.UC_X86_REG_R13, r14: C.UC_X86_REG_R14, r15: C.UC_X86_REG_R15,
  rip: C.UC_X86_REG_RIP, rflags: C.UC_X86_REG_RFLAGS,
  cs: C.UC_X86_REG_CS, ss: C.UC_X86_REG_SS, ds: C.UC_X86_REG_DS, es: C.UC_X86_REG_ES,
  fs: C.UC_X86_REG_FS, gs: C.UC_X86_REG_GS, fs_base: C.UC_X86_REG_FS_BASE, gs_base: C.UC_X86_REG_GS_BASE,
  cr0: C.UC_X86_REG_CR0, cr2: C.UC_X86_REG_CR2, cr3: C.UC_X86_REG_CR3, cr4: C.UC_X86_REG_CR4,
  efer: 0,
};

/** uc_mem_type of an invalid access → the MemAccess string handed to InvalidMemHook. */
export const MEM_ACCESS: ReadonlyMap<number, MemAccess> = new Map<number, MemAccess>([
  [C.UC_MEM_READ_UNMAPPED, 'read-unmapped'], [C.UC_MEM_WRITE_UNMAPPED, 'write-unmapped'],
  [C.UC_MEM_FETCH_UNMAPPED, 'fetch-unmapped'], [C.UC_MEM_READ_PROT, 'read-prot'],
  [C.UC_MEM_WRITE_PROT, 'write-prot'], [C.UC_MEM_FETCH_PROT, 'fetch-prot'],
]);
