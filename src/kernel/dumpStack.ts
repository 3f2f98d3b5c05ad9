// dumpStack.ts - arch/x86/kernel/dumpstack.c and process_64.c __show_regs: an oops's register dump and Call Trace, from pt_regs

import { PT_REGS, THREAD_SIZE } from '../abi/layout.ts';
import { showStack } from '../unwind/index.ts';
import type { Engine } from '../../emu/types.ts';
import type { Kernel } from './kernel.ts';

const PROLOGUE_SIZE = 42;
const EPILOGUE_SIZE = 21;

const x16 = (v: bigint): string => v.toString(16).padStart(16, '0');
const hexBytes = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

/** show_opcodes(): 42 bytes before regs->ip, <the byte at ip>, 21 after. */
function showOpcodes(k: Kernel, ip: bigint): string {
  const mem = k.machine.mem;
  const from = ip - BigInt(PROLOGUE_SIZE);
  const n = PROLOGUE_SIZE + 1 + EPILOGUE_SIZE;
  if (!mem.isMapped(from, n)) return `Code: Unable to access opcode bytes at 0x${from.toString(16)}.`;
  const b = mem.read(from, n);
  return `Code: ${hexBytes(b.subarray(0, PROLOGUE_SIZE))} <${hexBytes(b.subarray(PROLOGUE_SIZE, PROLOGUE_SIZE + 1))}> ${hexBytes(b.subarray(PROLOGUE_SIZE + 1))}`;
}

/**
 * __show_regs(regs, SHOW_REGS_ALL): RIP as %pS, the opcode bytes around it,
 * RSP/EFLAGS (ORIG_RAX when it is not -1), the general registers three a
 * line, then the segment and control registers of the CPU (`e`).
 */
export function showRegs(k: Kernel, regs: bigint, e: Engine): string[] {
  const mem = k.machine.mem;
  if (!mem.isMapped(regs, PT_REGS.SIZE)) return [];
  const r = (f: keyof typeof PT_REGS): bigint => mem.readU64(regs + BigInt(PT_REGS[f]));
  const cs = Number(r('cs') & 0xffffn);
  const ip = r('ip');
  const orig = r('orig_ax');
  const trio = (a: string, av: bigint, b: string, bv: bigint, c: string, cv: bigint): string => `${a}: ${x16(av)} ${b}: ${x16(bv)} ${c}: ${x16(cv)}`;
  return [
    `RIP: ${cs.toString(16).padStart(4, '0')}:${k.kallsyms.symbolize(ip)}`,
    showOpcodes(k, ip),
    `RSP: ${Number(r('ss') & 0xffffn).toString(16).padStart(4, '0')}:${x16(r('sp'))} EFLAGS: ${r('flags').toString(16).padStart(8, '0')}${orig !== 0xffffffffffffffffn ? ` ORIG_RAX: ${x16(orig)}` : ''}`,
    trio('RAX', r('rax'), 'RBX', r('rbx'), 'RCX', r('rcx')),
    trio('RDX', r('rdx'), 'RSI', r('rsi'), 'RDI', r('rdi')),
    trio('RBP', r('rbp'), 'R08', r('r8'), 'R09', r('r9')),
    trio('R10', r('r10'), 'R11', r('r11'), 'R12', r('r12')),
    trio('R13', r('r13'), 'R14', r('r14'), 'R15', r('r15')),
    `FS:  ${x16(e.regRead('fs_base'))}(0000) GS:${x16(e.regRead('gs_base'))}(0000) knlGS:0000000000000000`,
    `CS:  ${cs.toString(16).padStart(4, '0')} DS: 0000 ES: 0000 CR0: ${x16(e.regRead('cr0'))}`,
    `CR2: ${x16(e.regRead('cr2'))} CR3: ${x16(e.regRead('cr3'))} CR4: ${x16(e.regRead('cr4'))}`,
  ];
}

/** Frames printed at most (the kernel stops at the end of the stack; a broken chain is cut here). */
const MAX_FRAMES = 64;

/**
 * show_trace_log_lvl() for the exception frame at `regs` on `cpu`: the
 * callers of regs->ip (regs->ip itself is the RIP line), one `symbol+off/size`
 * line each, `? ` before an address that is not kernel text, between
 * <TASK> and </TASK>. Empty when the frame cannot be read.
 */
export function showTraceLogLvl(k: Kernel, cpu: number, regs: bigint): string[] {
  const mem = k.machine.mem;
  if (!mem.isMapped(regs, PT_REGS.SIZE)) return [];
  const ip = mem.readU64(regs + BigInt(PT_REGS.ip));
  const bp = mem.readU64(regs + BigInt(PT_REGS.rbp));
  const sp = mem.readU64(regs + BigInt(PT_REGS.sp));
  const cur = k.currentOn(cpu);
  const inCur = cur && sp >= cur.stack && sp < cur.stack + BigInt(THREAD_SIZE);
  const stack = inCur ? cur.stack : sp & ~BigInt(THREAD_SIZE - 1);
  const shown = showStack(mem, { stack, start: { kind: 'regs', ip, fp: bp } }, {
    isKernelText: (a) => k.isKernelText(a),
    isIrqEntryReturn: (a) => k.isIrqEntryReturn(a),
  });
  const lines = ['Call Trace:', ' <TASK>'];
  for (const f of shown.frames.slice(1, MAX_FRAMES + 1)) lines.push(` ${f.mark ? '? ' : ''}${k.kallsyms.symbolize(f.ip)}`);
  lines.push(' </TASK>');
  return lines;
}
