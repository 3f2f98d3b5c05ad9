// image.ts - the kernel image as the machine loads it (parsed from vmlinux)

import type { KSym } from './kallsyms.ts';

/** One SHF_ALLOC section of vmlinux. */
export interface ImageSection {
  name: string;
  addr: bigint;
  size: number;
  /** File bytes; empty for NOBITS (.bss). */
  data: Uint8Array;
  write: boolean;
  exec: boolean;
}

/** What boot needs from vmlinux. */
export interface KernelImage {
  path: string;
  sections: ImageSection[];
  symbols: KSym[];
  /** __mcount_loc entries: every traceable function's entry address. */
  mcountLoc: bigint[];
  /** EXPORT_SYMBOL'd names modules may link against. */
  exported: Set<string>;
  entry: bigint;
}
