// selfCheck.ts - the image rules later stages rely on: ftrace nops, __mcount_loc, frame pointers

import { FTRACE_NOP, MCOUNT_INSN_SIZE, MemoryMap } from '../abi/layout.ts';
import { disassemble, formatInsn } from '../asm/disasm.ts';
import type { KernelImage } from '../kernel/image.ts';
import type { KSym } from '../kernel/kallsyms.ts';

const PROLOGUE = Uint8Array.of(0x55, 0x48, 0x89, 0xe5); // push rbp; mov rbp, rsp

function bytesAt(img: KernelImage, addr: bigint, size: number): Uint8Array | undefined {
  const s = img.sections.find((x) => addr >= x.addr && addr + BigInt(size) <= x.addr + BigInt(x.data.length));
  return s?.data.subarray(Number(addr - s.addr), Number(addr - s.addr) + size);
}

const same = (a: Uint8Array | undefined, b: Uint8Array): boolean => !!a && a.length === b.length && a.every((v, i) => v === b[i]);
const hex = (a: bigint): string => `0x${a.toString(16)}`;

function checkMcount(img: KernelImage, funcs: Map<bigint, KSym>): string[] {
  const errs: string[] = [];
  const listed = new Set(img.mcountLoc);
  for (const ip of img.mcountLoc) {
    const f = funcs.get(ip);
    if (!f || f.code) errs.push(`__mcount_loc entry ${hex(ip)} is not the entry of a function`);
    else if (!same(bytesAt(img, ip, MCOUNT_INSN_SIZE), FTRACE_NOP)) errs.push(`__mcount_loc entry ${hex(ip)} (${f.name}) does not hold the ftrace nop`);
  }
  for (const f of funcs.values()) {
    const starts = same(bytesAt(img, f.addr, MCOUNT_INSN_SIZE), FTRACE_NOP);
    if (starts && !listed.has(f.addr)) errs.push(`${f.name} starts with the ftrace nop but is not in __mcount_loc`);
  }
  return errs;
}

/** Every byte decodes, the prologue sets up RBP, and every `ret` follows `pop rbp` or `leave`. */
function checkFunction(img: KernelImage, f: KSym, traced: boolean): string[] {
  const body = bytesAt(img, f.addr, f.size);
  if (!body) return [`${f.name}: ${f.size} bytes at ${hex(f.addr)} are outside the image`];
  const insns = disassemble(body, f.addr);
  const used = insns.reduce((n, i) => n + i.size, 0);
  if (used !== f.size) return [`${f.name}: bytes at ${hex(f.addr + BigInt(used))} do not decode (capstone)`];
  if (f.code || f.addr < MemoryMap.KERNEL_TEXT) return [];
  const at = traced ? MCOUNT_INSN_SIZE : 0;
  if (!same(body.subarray(at, at + PROLOGUE.length), PROLOGUE)) return [`${f.name}: no frame pointer prologue (push rbp; mov rbp, rsp)`];
  const errs: string[] = [];
  insns.forEach((insn, i) => {
    if (insn.mnemonic !== 'ret') return;
    const prev = insns[i - 1];
    if (!prev || !(formatInsn(prev) === 'pop rbp' || prev.mnemonic === 'leave')) {
      errs.push(`${f.name}: ret at ${hex(insn.address)} without pop rbp/leave before it`);
    }
  });
  return errs;
}

/**
 * Check the rules of docs/abi.md over the whole image; returns one line per
 * violation (empty when the image is sound). tools/build-kernel refuses to
 * write an image that fails, and the tests run it over the built vmlinux.
 */
export function selfCheck(img: KernelImage): string[] {
  const funcs = new Map<bigint, KSym>();
  for (const s of img.symbols) if (s.type === 'func' && s.obj === 'vmlinux') funcs.set(s.addr, s);
  const errs = checkMcount(img, funcs);
  const listed = new Set(img.mcountLoc);
  for (const f of funcs.values()) errs.push(...checkFunction(img, f, listed.has(f.addr)));
  return errs;
}
