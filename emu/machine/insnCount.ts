// insnCount.ts - instructions in a translated block, for exact per-vCPU instruction counts

import { Capstone, Const, loadCapstone } from 'capstone-wasm';

await loadCapstone();
const cs = new Capstone(Const.CS_ARCH_X86, Const.CS_MODE_64);

/** Number of x86-64 instructions in `bytes` (a whole block; at least 1). */
export function countInsns(bytes: Uint8Array): number {
  return cs.disasm(bytes, { address: 0 }).length || 1;
}
