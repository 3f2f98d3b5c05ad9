// syscallBias.ts - how far Unicorn moves RIP after a syscall hook returns (calibrated once)
//
// Unicorn 2.0.1's helper_syscall calls the UC_HOOK_INSN syscall hooks and then
// does `env->eip += next_eip_addend` (2), so a RIP the hook wrote ends up two
// bytes further. Measured on a scratch engine rather than assumed, so a fixed
// Unicorn (bias 0) keeps working.

import type { Engine } from '../types.ts';
import { Prot } from '../types.ts';

const SCRATCH = 0x10000n;
const TARGET = SCRATCH + 0x100n;

let cached: bigint | undefined;

/** Bytes Unicorn adds to the RIP a syscall hook writes (2 on 2.0.1). */
export function syscallRipBias(create: () => Engine): bigint {
  if (cached !== undefined) return cached;
  const e = create();
  try {
    e.memMap(SCRATCH, 0x1000, Prot.ALL);
    const code = new Uint8Array(0x200).fill(0xf4); // hlt everywhere
    code.set([0x0f, 0x05], 0); // syscall
    e.memWrite(SCRATCH, code);
    const h = e.addSyscallHook(() => e.regWrite('rip', TARGET));
    e.emuStart(SCRATCH, 0n, 0, 0);
    h.remove();
    // Execution stopped after the hlt it landed on.
    cached = e.regRead('rip') - 1n - TARGET;
  } finally {
    e.close();
  }
  return cached;
}
