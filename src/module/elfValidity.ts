// elfValidity.ts - elf_validity_check (kernel/module/main.c): the loader's first look at a .ko, with the kernel's messages

import { ET_REL, SHF_ALLOC, SHT_NOBITS, SHT_NULL, SHT_SYMTAB } from '../elf/index.ts';

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const EM_X86_64 = 62;
/** ELFMAG as %s prints it. */
const ELFMAG = '\x7fELF';

/**
 * The checks of elf_validity_check() on the raw file, in the kernel's order:
 * header length, magic, ET_REL, architecture, section header size and
 * bounds, the section name table, section 0, every section's contents.
 * Returns the pr_err line of the first failure (the load is -ENOEXEC), or
 * undefined when the file passes.
 */
export function elfValidityCheck(input: Uint8Array): string | undefined {
  const b = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const len = b.length;
  if (len < EHDR_SIZE) return `Invalid ELF header len ${len}`;
  if (b.toString('latin1', 0, 4) !== ELFMAG) return `Invalid ELF header magic: != ${ELFMAG}`;
  const type = b.readUInt16LE(16);
  if (type !== ET_REL) return `Invalid ELF header type: ${type} != ${ET_REL}`;
  const machine = b.readUInt16LE(18);
  if (machine !== EM_X86_64) return `Invalid architecture in ELF header: ${machine}`;
  if (b.readUInt16LE(58) !== SHDR_SIZE) return 'Invalid ELF section header size';
  const shoff = b.readBigUInt64LE(40);
  const shnum = b.readUInt16LE(60);
  if (shoff >= BigInt(len) || BigInt(shnum * SHDR_SIZE) > BigInt(len) - shoff) return 'Invalid ELF section header overflow';
  const shstrndx = b.readUInt16LE(62);
  if (shstrndx === 0 || shstrndx >= shnum) return `Invalid ELF section name index: ${shstrndx} || e_shstrndx (${shstrndx}) >= e_shnum (${shnum})`;
  const sh = (i: number) => {
    const o = Number(shoff) + i * SHDR_SIZE;
    return {
      name: b.readUInt32LE(o), type: b.readUInt32LE(o + 4), flags: b.readBigUInt64LE(o + 8), addr: b.readBigUInt64LE(o + 16),
      offset: b.readBigUInt64LE(o + 24), size: b.readBigUInt64LE(o + 32), link: b.readUInt32LE(o + 40),
    };
  };
  /** validate_section_offset(): the contents lie inside the file. */
  const inFile = (s: ReturnType<typeof sh>): boolean => s.offset + s.size <= BigInt(len);
  const strhdr = sh(shstrndx);
  if (!inFile(strhdr)) return `Invalid ELF section hdr(type ${strhdr.type})`;
  if (strhdr.size === 0n) return 'empty section name table';
  if (b[Number(strhdr.offset + strhdr.size - 1n)] !== 0) return "ELF Spec violation: section name table isn't null terminated";
  const s0 = sh(0);
  if (s0.type !== SHT_NULL || s0.size !== 0n || s0.addr !== 0n) return `ELF Spec violation: section 0 type(${s0.type})!=SH_NULL or non-zero len or addr`;
  for (let i = 1; i < shnum; i++) {
    const s = sh(i);
    if (s.type === SHT_NULL || s.type === SHT_NOBITS) continue;
    if (s.type === SHT_SYMTAB && (s.link === 0 || s.link >= shnum)) {
      return `Invalid ELF sh_link!=SHN_UNDEF(${s.link}) or (sh_link(${s.link}) >= hdr->e_shnum(${shnum})`;
    }
    if (!inFile(s)) return `Invalid ELF section in module (section ${i} type ${s.type})`;
    if (s.flags & BigInt(SHF_ALLOC) && BigInt(s.name) >= strhdr.size) return `Invalid ELF section name in module (section ${i} type ${s.type})`;
  }
  return undefined;
}
