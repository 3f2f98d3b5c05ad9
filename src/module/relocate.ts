// relocate.ts - arch/x86/kernel/module.c apply_relocate_add, and livepatch's .klp.sym resolution
//
// Works on the staged module image (host bytes), never on guest memory:
// the loader copies the image in only after every relocation succeeded.

import type { Kernel } from '../kernel/kernel.ts';
import { Errno } from '../kernel/errno.ts';
import { LogLevel } from '../kernel/printk.ts';
import { readRelas, R_X86_64_32, R_X86_64_32S, R_X86_64_64, R_X86_64_PC32, R_X86_64_PLT32, SHN_LIVEPATCH } from '../elf/index.ts';
import type { ElfFile, ElfSection, ElfSymbol } from '../elf/index.ts';
import { EmuError } from '../../emu/errors.ts';

const SIZE: Record<number, number> = { [R_X86_64_64]: 8, [R_X86_64_PC32]: 4, [R_X86_64_PLT32]: 4, [R_X86_64_32]: 4, [R_X86_64_32S]: 4 };

/** klp_resolve_symbols() for one symbol: `.klp.sym.<obj>.<name>,<sympos>` through kallsyms. */
function klpResolve(k: Kernel, sym: ElfSymbol, secName: string, secIdx: number, relIdx: number): bigint | number {
  const err = (m: string): number => {
    k.printk(LogLevel.ERR, `livepatch: ${m}`);
    return -Errno.EINVAL;
  };
  if (sym.shndx !== SHN_LIVEPATCH) return err(`symbol ${sym.name} at rela sec ${secIdx} idx ${relIdx} is not marked as a livepatch symbol`);
  const m = /^\.klp\.sym\.([^.]{1,55})\.([^,]{1,511}),(\d+)$/.exec(sym.name);
  if (!m) return err(`symbol ${sym.name} has an incorrectly formatted name`);
  const secObj = /^\.klp\.rela\.([^.]{1,55})\./.exec(secName)?.[1];
  if (!secObj) return err(`section ${secName} has an incorrectly formatted name`);
  if (secObj !== 'vmlinux' && m[1] === 'vmlinux') return err(`invalid access to vmlinux symbol '${m[2]}' from module-specific livepatch relocation section`);
  const sympos = Number(m[3]);
  const { sym: found, count } = k.kallsyms.lookupSympos(m[1]!, m[2]!, sympos);
  if (found) return found.addr;
  if (count === 0) return err(`symbol '${m[2]}' not found in symbol table`);
  if (sympos === 0) return err(`unresolvable ambiguity for symbol '${m[2]}' in object '${m[1]}'`);
  return err(`symbol position ${sympos} for symbol '${m[2]}' in object '${m[1]}' not found`);
}

/** Write one relocation's value, with the kernel's zero-target and overflow checks. */
function writeOne(k: Kernel, mod: string, image: Uint8Array, at: number, loc: bigint, type: number, val: bigint): number {
  const view = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
  const size = SIZE[type]!;
  const existing = size === 8 ? view.readBigUInt64LE(at) : BigInt(view.readUInt32LE(at));
  if (existing !== 0n) {
    k.printk(LogLevel.ERR, `x86/modules: Invalid relocation target, existing value is nonzero for type ${type}, loc 0x${loc.toString(16)}, val 0x${BigInt.asUintN(64, val).toString(16)}`);
    return -Errno.ENOEXEC;
  }
  let v = val;
  if (type === R_X86_64_PC32 || type === R_X86_64_PLT32) v = val - loc;
  const ok = type === R_X86_64_64 || (type === R_X86_64_32 ? v >= 0n && v <= 0xffff_ffffn : v >= -0x8000_0000n && v <= 0x7fff_ffffn);
  if (!ok) {
    k.printk(LogLevel.ERR, `overflow in relocation type ${type} val ${BigInt.asUintN(64, val).toString(16)}`);
    k.printk(LogLevel.ERR, `\`${mod}' likely not compiled with -mcmodel=kernel`);
    return -Errno.ENOEXEC;
  }
  if (size === 8) view.writeBigUInt64LE(BigInt.asUintN(64, v), at);
  else view.writeUInt32LE(Number(BigInt.asUintN(32, v)), at);
  return 0;
}

/**
 * Apply one SHT_RELA section to the staged image. `values` are the resolved
 * symbol values (st_value after simplify_symbols); klp sections resolve their
 * SHN_LIVEPATCH symbols through kallsyms instead.
 */
export function relocate(
  k: Kernel, f: ElfFile, sec: ElfSection, mod: string, image: Uint8Array,
  secAddr: Map<number, bigint>, base: bigint, values: bigint[], klp: boolean,
): number {
  let relas;
  try {
    relas = readRelas(f, sec);
  } catch (e) {
    k.printk(LogLevel.ERR, `${mod}: ${(e as EmuError).message}`);
    return -Errno.ENOEXEC;
  }
  const target = f.sections[sec.info]!;
  const tbase = secAddr.get(sec.info)!;
  for (let i = 0; i < relas.length; i++) {
    const r = relas[i]!;
    const size = SIZE[r.type];
    if (!size) {
      k.printk(LogLevel.ERR, `${mod}: Unknown rela relocation: ${r.type}`);
      return -Errno.ENOEXEC;
    }
    if (r.offset + BigInt(size) > BigInt(target.size)) {
      k.printk(LogLevel.ERR, `${mod}: section ${sec.info} reloc ${i}: offset 0x${r.offset.toString(16)} outside ${target.name}`);
      return -Errno.ENOEXEC;
    }
    const sym = f.symbols[r.sym]!;
    let s: bigint | number = values[r.sym]!;
    if (klp) s = klpResolve(k, sym, sec.name, sec.index, i);
    else if (sym.shndx === SHN_LIVEPATCH) s = -Errno.ENOEXEC;
    if (typeof s === 'number') return s;
    const loc = tbase + r.offset;
    const ret = writeOne(k, mod, image, Number(loc - base), loc, r.type, s + r.addend);
    if (ret < 0) return ret;
  }
  return 0;
}
