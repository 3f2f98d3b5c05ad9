// index.ts - the ELF library's public surface
export * from './elfConst.ts';
export { writeElf, encodeRelas, relaSection, StrTab } from './elfWriter.ts';
export type { ElfImage, OutSection, OutSymbol, OutRela } from './elfWriter.ts';
export { readElf, readRelas } from './elfReader.ts';
export type { ElfFile, ElfSection, ElfSymbol, ElfRela } from './elfReader.ts';
