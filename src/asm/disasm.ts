// disasm.ts - capstone-wasm as the one x86-64 disassembler (64-bit addresses restored)

import { Capstone, Const, loadCapstone } from 'capstone-wasm';

await loadCapstone();
const cs = new Capstone(Const.CS_ARCH_X86, Const.CS_MODE_64);

/** One decoded instruction at its real (64-bit) address. */
export interface Insn {
  address: bigint;
  size: number;
  bytes: Uint8Array;
  mnemonic: string;
  opStr: string;
}

const LOW32 = 0xffff_ffffn;

/**
 * Decode up to `count` instructions of `bytes` located at `address`. Stops at
 * the first byte sequence that is not an instruction (callers compare the
 * decoded length with the input to detect that).
 */
export function disassemble(bytes: Uint8Array, address: bigint, count = 0): Insn[] {
  // capstone-wasm computes branch targets from a bigint address but returns
  // each instruction's own address as a signed 32-bit number: restore it.
  const high = address & ~LOW32;
  const out: Insn[] = [];
  let insns: ReturnType<typeof cs.disasm>;
  try {
    insns = bytes.length ? cs.disasm(bytes, { address, count }) : [];
  } catch {
    // capstone-wasm throws when not even the first instruction decodes
    insns = [];
  }
  for (const i of insns) {
    out.push({
      address: high | (BigInt(i.address) & LOW32),
      size: i.size,
      bytes: Uint8Array.from(i.bytes),
      mnemonic: i.mnemonic,
      opStr: i.opStr,
    });
  }
  return out;
}

/** Instruction boundaries of `bytes` at `address`; `complete` is false when decoding stopped early. */
export function boundaries(bytes: Uint8Array, address: bigint): { starts: bigint[]; complete: boolean } {
  const insns = disassemble(bytes, address);
  const used = insns.reduce((n, i) => n + i.size, 0);
  return { starts: insns.map((i) => i.address), complete: used === bytes.length };
}

/** `mnemonic opStr` as objdump would print it (Intel syntax). */
export function formatInsn(i: Insn): string {
  return i.opStr ? `${i.mnemonic} ${i.opStr}` : i.mnemonic;
}
