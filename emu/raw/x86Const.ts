// x86Const.ts - Unicorn constants, generated from unicorn 2.0.1 headers, do not edit
// Regenerate with: npx tsx tools/gen-unicorn-const.ts (needs libunicorn-dev)

// Architecture and mode (uc_arch, uc_mode)
export const UC_ARCH_X86 = 4;
export const UC_MODE_64 = 8;

// Status codes (uc_err)
export const UC_ERR_OK = 0;
export const UC_ERR_NOMEM = 1;
export const UC_ERR_ARCH = 2;
export const UC_ERR_HANDLE = 3;
export const UC_ERR_MODE = 4;
export const UC_ERR_VERSION = 5;
export const UC_ERR_READ_UNMAPPED = 6;
export const UC_ERR_WRITE_UNMAPPED = 7;
export const UC_ERR_FETCH_UNMAPPED = 8;
export const UC_ERR_HOOK = 9;
export const UC_ERR_INSN_INVALID = 10;
export const UC_ERR_MAP = 11;
export const UC_ERR_WRITE_PROT = 12;
export const UC_ERR_READ_PROT = 13;
export const UC_ERR_FETCH_PROT = 14;
export const UC_ERR_ARG = 15;
export const UC_ERR_READ_UNALIGNED = 16;
export const UC_ERR_WRITE_UNALIGNED = 17;
export const UC_ERR_FETCH_UNALIGNED = 18;
export const UC_ERR_HOOK_EXIST = 19;
export const UC_ERR_RESOURCE = 20;
export const UC_ERR_EXCEPTION = 21;

// Hook types (uc_hook_type and the UC_HOOK_MEM_* composites)
export const UC_HOOK_INTR = 1;
export const UC_HOOK_INSN = 2;
export const UC_HOOK_CODE = 4;
export const UC_HOOK_BLOCK = 8;
export const UC_HOOK_MEM_READ_UNMAPPED = 0x10;
export const UC_HOOK_MEM_WRITE_UNMAPPED = 0x20;
export const UC_HOOK_MEM_FETCH_UNMAPPED = 0x40;
export const UC_HOOK_MEM_READ_PROT = 0x80;
export const UC_HOOK_MEM_WRITE_PROT = 0x100;
export const UC_HOOK_MEM_FETCH_PROT = 0x200;
export const UC_HOOK_MEM_READ = 0x400;
export const UC_HOOK_MEM_WRITE = 0x800;
export const UC_HOOK_MEM_FETCH = 0x1000;
export const UC_HOOK_MEM_READ_AFTER = 0x2000;
export const UC_HOOK_INSN_INVALID = 0x4000;
export const UC_HOOK_EDGE_GENERATED = 0x8000;
export const UC_HOOK_TCG_OPCODE = 0x10000;
export const UC_HOOK_MEM_UNMAPPED = 0x70;
export const UC_HOOK_MEM_PROT = 0x380;
export const UC_HOOK_MEM_READ_INVALID = 0x90;
export const UC_HOOK_MEM_WRITE_INVALID = 0x120;
export const UC_HOOK_MEM_FETCH_INVALID = 0x240;
export const UC_HOOK_MEM_INVALID = 0x3f0;
export const UC_HOOK_MEM_VALID = 0x1c00;

// Memory access kinds reported to memory hooks (uc_mem_type)
export const UC_MEM_READ = 16;
export const UC_MEM_WRITE = 17;
export const UC_MEM_FETCH = 18;
export const UC_MEM_READ_UNMAPPED = 19;
export const UC_MEM_WRITE_UNMAPPED = 20;
export const UC_MEM_FETCH_UNMAPPED = 21;
export const UC_MEM_WRITE_PROT = 22;
export const UC_MEM_READ_PROT = 23;
export const UC_MEM_FETCH_PROT = 24;
export const UC_MEM_READ_AFTER = 25;

// x86 register ids (uc_x86_reg); EFER has no id in 2.0.1, it is MSR 0xc0000080
export const UC_X86_REG_RAX = 35;
export const UC_X86_REG_RBX = 37;
export const UC_X86_REG_RCX = 38;
export const UC_X86_REG_RDX = 40;
export const UC_X86_REG_RSI = 43;
export const UC_X86_REG_RDI = 39;
export const UC_X86_REG_RBP = 36;
export const UC_X86_REG_RSP = 44;
export const UC_X86_REG_R8 = 106;
export const UC_X86_REG_R9 = 107;
export const UC_X86_REG_R10 = 108;
export const UC_X86_REG_R11 = 109;
export const UC_X86_REG_R12 = 110;
export const UC_X86_REG_R13 = 111;
export const UC_X86_REG_R14 = 112;
export const UC_X86_REG_R15 = 113;
export const UC_X86_REG_RIP = 41;
export const UC_X86_REG_RFLAGS = 253;
export const UC_X86_REG_CS = 11;
export const UC_X86_REG_SS = 49;
export const UC_X86_REG_DS = 17;
export const UC_X86_REG_ES = 28;
export const UC_X86_REG_FS = 32;
export const UC_X86_REG_GS = 33;
export const UC_X86_REG_FS_BASE = 250;
export const UC_X86_REG_GS_BASE = 251;
export const UC_X86_REG_CR0 = 50;
export const UC_X86_REG_CR2 = 52;
export const UC_X86_REG_CR3 = 53;
export const UC_X86_REG_CR4 = 54;
export const UC_X86_REG_IDTR = 242;
export const UC_X86_REG_GDTR = 243;
export const UC_X86_REG_LDTR = 244;
export const UC_X86_REG_TR = 245;
export const UC_X86_REG_MSR = 248;

// x86 instruction ids for UC_HOOK_INSN (uc_x86_insn)
export const UC_X86_INS_SYSCALL = 699;
export const UC_X86_INS_OUT = 500;
export const UC_X86_INS_IN = 218;

// uc_ctl: io bits and control types (uc_control_type)
export const UC_CTL_IO_NONE = 0;
export const UC_CTL_IO_WRITE = 1;
export const UC_CTL_IO_READ = 2;
export const UC_CTL_TB_REMOVE_CACHE = 9;
export const UC_CTL_TB_FLUSH = 10;

// uc_ctl control words, UC_CTL_WRITE(type, nr) = type | nr << 26 | UC_CTL_IO_WRITE << 30
export const UC_CTL_WRITE_TB_REMOVE_CACHE = 0x48000009;
export const UC_CTL_WRITE_TB_FLUSH = 0x4000000a;
