// loadImage.ts - parse vmlinux (ELF64 ET_EXEC) into what boot, kallsyms and ftrace need

import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EmuError } from '../../emu/errors.ts';
import {
  readElf, ET_EXEC, SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_NOBITS, STB_LOCAL, STT_FUNC, STT_NOTYPE, STT_OBJECT,
} from '../elf/index.ts';
import type { ElfFile, ElfSection } from '../elf/index.ts';
import type { ImageSection, KernelImage } from './image.ts';
import type { KSym } from './kallsyms.ts';

/** Where `npm run build-kernel` writes vmlinux. */
export const DEFAULT_VMLINUX = fileURLToPath(new URL('../../kernel-image/build/vmlinux', import.meta.url));

function allocSections(f: ElfFile): ImageSection[] {
  return f.sections
    .filter((s) => s.flags & SHF_ALLOC && s.size > 0)
    .map((s) => ({
      name: s.name, addr: s.addr, size: s.size,
      data: s.type === SHT_NOBITS ? new Uint8Array(0) : new Uint8Array(s.data),
      write: (s.flags & SHF_WRITE) !== 0, exec: (s.flags & SHF_EXECINSTR) !== 0,
    }));
}

function symbolsOf(f: ElfFile): KSym[] {
  const out: KSym[] = [];
  for (const s of f.symbols) {
    if (s.index === 0 || s.shndx === 0 || s.shndx >= 0xff00) continue;
    const sec = f.sections[s.shndx]!;
    if (!(sec.flags & SHF_ALLOC)) continue;
    const inText = (sec.flags & SHF_EXECINSTR) !== 0;
    if (s.type === STT_FUNC || (s.type === STT_NOTYPE && inText && s.size > 0)) {
      out.push({ name: s.name, addr: s.value, size: s.size, type: 'func', global: s.bind !== STB_LOCAL, obj: 'vmlinux', code: s.type === STT_NOTYPE });
    } else if (s.type === STT_OBJECT) {
      out.push({ name: s.name, addr: s.value, size: s.size, type: 'object', global: s.bind !== STB_LOCAL, obj: 'vmlinux' });
    }
  }
  return out;
}

function section(f: ElfFile, name: string): ElfSection | undefined {
  return f.sections.find((s) => s.name === name);
}

function mcountLoc(f: ElfFile): bigint[] {
  const s = section(f, '__mcount_loc');
  if (!s) return [];
  if (s.type === SHT_NOBITS) throw new EmuError('elf', '__mcount_loc is SHT_NOBITS (no addresses)', { op: 'load_vmlinux' });
  if (s.size % 8) throw new EmuError('elf', `__mcount_loc: size ${s.size} is not a multiple of 8`, { op: 'load_vmlinux' });
  const out: bigint[] = [];
  for (let o = 0; o < s.size; o += 8) out.push(s.data.readBigUInt64LE(o));
  return out;
}

function exportedNames(f: ElfFile): Set<string> {
  const s = section(f, '__ksymtab_strings');
  if (!s) return new Set();
  return new Set(s.data.toString('latin1').split('\0').filter(Boolean));
}

/**
 * Parse vmlinux bytes.
 * @throws EmuError kind 'elf' when the file is not an x86-64 ET_EXEC image
 */
export function parseImage(bytes: Uint8Array, path = '<memory>'): KernelImage {
  const f = readElf(bytes);
  if (f.type !== ET_EXEC) throw new EmuError('elf', `${path}: e_type ${f.type} is not ET_EXEC`, { op: 'load_vmlinux' });
  return { path, sections: allocSections(f), symbols: symbolsOf(f), mcountLoc: mcountLoc(f), exported: exportedNames(f), entry: f.entry };
}

/**
 * Read and parse vmlinux (default: the one `npm run build-kernel` writes).
 * @throws EmuError kind 'input' when the file is missing
 */
export function loadImage(path: string = DEFAULT_VMLINUX): KernelImage {
  if (!existsSync(path)) throw new EmuError('input', `${path} not found: run \`npm run build-kernel\` first`, { op: 'load_vmlinux' });
  return parseImage(readFileSync(path), path);
}
