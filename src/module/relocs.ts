// relocs.ts - derive a section's relocations from keystone, which gives bytes only
//
// Keystone resolves every symbol itself. To learn where the relocations are,
// a section is assembled three times with its external symbols (other
// sections, kernel symbols) placed at chosen addresses: A (base B1, symbols
// at S), B (base B1, symbols moved by DELTA) and C (base B2, symbols at S).
// Bytes that differ between A and B are relocation fields; a 4-byte field
// whose value also differs between A and C is PC-relative (PC32, or PLT32
// after a call opcode), else absolute (32S); an 8-byte field is R_X86_64_64.
// Symbol and addend are solved from A; the result is then verified by
// re-applying the relocations to the zeroed fields of A-at-B2 and comparing
// with C byte for byte.

import { EmuError } from '../../emu/errors.ts';
import { R_X86_64_32S, R_X86_64_64, R_X86_64_PC32, R_X86_64_PLT32 } from '../elf/index.ts';

export interface DerivedReloc {
  offset: number;
  type: number;
  sym: string;
  addend: bigint;
}

/** Assemble the section at `base` with `externs` at the given addresses. */
export type AssembleAt = (base: bigint, externs: ReadonlyMap<string, bigint>) => Uint8Array;

const B1 = 0x1000_0000n;
// B2 - B1 changes every low byte of an absolute address (and keeps 16-byte alignment).
const B2 = B1 + 0x0101_0110n;
const S0 = 0x4000_0000n;
const STEP = 0x10_0000n;
// Every low byte of every field changes under DELTA, so a diff run is exactly a field's low 4 bytes.
const DELTA = 0x0101_0101n;
const MAX_ADDEND = 0x8_0000n;

function place(names: readonly string[], shift: bigint): Map<string, bigint> {
  return new Map(names.map((n, i) => [n, S0 + shift + BigInt(i) * STEP]));
}

function solve(value: bigint, placed: Map<string, bigint>, pcrel: boolean, at: bigint): { sym: string; addend: bigint } | undefined {
  for (const [sym, s] of placed) {
    const addend = pcrel ? value - s + at : value - s;
    if (addend > -MAX_ADDEND && addend < MAX_ADDEND) return { sym, addend };
  }
  return undefined;
}

/** Byte ranges where a and b differ, merged, as [start, end). */
function diffRuns(a: Uint8Array, b: Uint8Array): [number, number][] {
  const runs: [number, number][] = [];
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const last = runs[runs.length - 1];
    if (last && i === last[1]) last[1] = i + 1;
    else runs.push([i, i + 1]);
  }
  return runs;
}

/** Put a relocation's value into `out` (the field must be zero there). */
export function applyReloc(out: Uint8Array, r: DerivedReloc, base: bigint, symAddr: bigint): void {
  const view = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  const p = base + BigInt(r.offset);
  if (r.type === R_X86_64_64) view.writeBigUInt64LE(BigInt.asUintN(64, symAddr + r.addend), r.offset);
  else if (r.type === R_X86_64_32S) view.writeInt32LE(Number(BigInt.asIntN(32, symAddr + r.addend)), r.offset);
  else view.writeInt32LE(Number(BigInt.asIntN(32, symAddr + r.addend - p)), r.offset);
}

/**
 * The relocations of one section (see the header).
 * @throws EmuError kind 'asm' when a field cannot be explained or the check fails
 */
export function deriveRelocs(name: string, assemble: AssembleAt, externs: readonly string[], isData: boolean): { bytes: Uint8Array; relocs: DerivedReloc[] } {
  const sA = place(externs, 0n);
  const a = assemble(B1, sA);
  const b = externs.length ? assemble(B1, place(externs, DELTA)) : a;
  const c = assemble(B2, sA);
  if (a.length !== b.length || a.length !== c.length) throw new EmuError('asm', `${name}: encoding depends on symbol placement`, { op: 'build_module' });
  const relocs: DerivedReloc[] = [];
  const view = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  // Each field's four low bytes all change; adjacent fields make longer runs of 4-byte steps.
  const fields = diffRuns(a, b).flatMap(([st, en]) => ((en - st) % 4 ? [[st, en] as [number, number]] : Array.from({ length: (en - st) / 4 }, (_, k) => [st + 4 * k, st + 4 * k + 4] as [number, number])));
  for (const [off, end] of fields) {
    if (end - off !== 4) throw new EmuError('asm', `${name}+0x${off.toString(16)}: a ${end - off}-byte field refers to a symbol (use .quad, call, or [rip + sym])`, { op: 'build_module' });
    if (isData) {
      const s = off + 8 <= a.length ? solve(view.readBigUInt64LE(off), sA, false, 0n) : undefined;
      if (!s) throw new EmuError('asm', `${name}+0x${off.toString(16)}: data refers to a symbol other than by .quad`, { op: 'build_module' });
      relocs.push({ offset: off, type: R_X86_64_64, ...s });
      continue;
    }
    const pcrel = !Buffer.from(a.subarray(off, off + 4)).equals(Buffer.from(c.subarray(off, off + 4)));
    const s = solve(BigInt(view.readInt32LE(off)), sA, pcrel, B1 + BigInt(off));
    if (!s) throw new EmuError('asm', `${name}+0x${off.toString(16)}: unexplained 4-byte field`, { op: 'build_module' });
    const type = pcrel ? (off > 0 && a[off - 1] === 0xe8 ? R_X86_64_PLT32 : R_X86_64_PC32) : R_X86_64_32S;
    relocs.push({ offset: off, type, ...s });
  }
  relocs.push(...selfRelocs(name, a, c, relocs, isData));
  verify(name, a, c, relocs, sA);
  const zeroed = Uint8Array.from(a);
  for (const r of relocs) zeroed.fill(0, r.offset, r.offset + (r.type === R_X86_64_64 ? 8 : 4));
  return { bytes: zeroed, relocs };
}

/**
 * Absolute references to the section's own labels (`.quad label` inside the
 * same data section): fields that move with the section base but not with the
 * symbols. They become R_X86_64_64 against the section (sym '').
 */
function selfRelocs(name: string, a: Uint8Array, c: Uint8Array, known: DerivedReloc[], isData: boolean): DerivedReloc[] {
  const out: DerivedReloc[] = [];
  const view = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const covered = (off: number): boolean => known.some((r) => off >= r.offset && off < r.offset + (r.type === R_X86_64_64 ? 8 : 4));
  for (const [off, end] of diffRuns(a, c)) {
    if (covered(off)) continue;
    if (!isData || end - off !== 4 || off + 8 > a.length) {
      throw new EmuError('asm', `${name}+0x${off.toString(16)}: absolute reference to the section's own code (use [rip + label])`, { op: 'build_module' });
    }
    out.push({ offset: off, type: R_X86_64_64, sym: '', addend: view.readBigUInt64LE(off) - B1 });
  }
  return out;
}

/** Re-apply the derived relocations at B2 and demand the bytes keystone produced there. */
function verify(name: string, a: Uint8Array, c: Uint8Array, relocs: DerivedReloc[], placed: Map<string, bigint>): void {
  const out = Uint8Array.from(a);
  for (const r of relocs) {
    out.fill(0, r.offset, r.offset + (r.type === R_X86_64_64 ? 8 : 4));
    applyReloc(out, r, B2, r.sym === '' ? B2 : placed.get(r.sym)!);
  }
  if (!Buffer.from(out).equals(Buffer.from(c))) throw new EmuError('asm', `${name}: derived relocations do not reproduce keystone's output`, { op: 'build_module' });
}
