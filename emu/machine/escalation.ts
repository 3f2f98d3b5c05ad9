// escalation.ts - work around Unicorn's exception escalation bug (unicorn#1883)
//
// QEMU's check_exception() remembers the last contributory exception in
// env->old_exception and resets it only in do_interrupt_all(), which Unicorn
// never runs. So after one handled #DE or #GP, the next contributory fault is
// reported as #DF (intno 8), and the one after that ends emulation. We locate
// old_exception inside the uc_context blob once (by calibration on a scratch
// engine) and reset it to -1 after each contributory exception we deliver.

import type { Engine } from '../types.ts';
import { Prot } from '../types.ts';

const SCRATCH = 0x10000n;
// div rcx ; hlt  (rcx = 0: one #DE; run twice for two in a row)
const CODE = Uint8Array.of(0x48, 0xf7, 0xf1, 0xf4);

let cached: number | null | undefined;

/** Byte offset of env->old_exception in a uc_context blob, or null if not found. */
export function oldExceptionOffset(create: () => Engine): number | null {
  if (cached !== undefined) return cached;
  const e = create();
  try {
    e.memMap(SCRATCH, 0x1000, Prot.ALL);
    e.memWrite(SCRATCH, CODE);
    e.regWrite('rcx', 0n);
    e.regWrite('rsp', SCRATCH + 0x800n);
    const fresh = e.contextSave();
    const seen: number[] = [];
    const h = e.addInterruptHook((intno) => {
      seen.push(intno);
      e.regWrite('rip', e.regRead('rip') + 3n);
    });
    e.emuStart(SCRATCH, 0n, 0, 0);
    const after = e.contextSave();
    cached = findField(fresh, after);
    if (cached !== null && !verify(e, cached, seen)) cached = null;
    h.remove();
  } finally {
    e.close();
  }
  return cached;
}

function findField(fresh: Uint8Array, after: Uint8Array): number | null {
  const a = Buffer.from(fresh);
  const b = Buffer.from(after);
  const hits: number[] = [];
  for (let off = 0; off + 4 <= a.length; off += 4) {
    if (a.readInt32LE(off) === -1 && b.readInt32LE(off) === 0) hits.push(off);
  }
  return hits.length === 1 ? hits[0]! : null;
}

/** Reset old_exception and check the second #DE now arrives as intno 0, not 8. */
function verify(e: Engine, off: number, seen: number[]): boolean {
  resetOldException(e, off);
  e.emuStart(SCRATCH, 0n, 0, 0);
  return seen.length === 2 && seen[0] === 0 && seen[1] === 0;
}

/** Set env->old_exception back to -1 (outside emuStart only). */
export function resetOldException(e: Engine, off: number): void {
  const ctx = Buffer.from(e.contextSave());
  ctx.writeInt32LE(-1, off);
  e.contextRestore(ctx);
}

// mov ax, 0x1238 ; mov ds, ax ; hlt  — #GP with error code 0x1238 (the selector)
const GP_CODE = Uint8Array.of(0x66, 0xb8, 0x38, 0x12, 0x8e, 0xd8, 0xf4);
let errCached: number | null | undefined;

/**
 * Byte offset of env->error_code in a uc_context blob: Unicorn's interrupt
 * hook gets no error code, so the machine reads it from the context, at the
 * offset found here by raising #GP with a known selector.
 */
export function errorCodeOffset(create: () => Engine): number | null {
  if (errCached !== undefined) return errCached;
  const e = create();
  try {
    e.memMap(SCRATCH, 0x1000, Prot.ALL);
    e.memWrite(SCRATCH, GP_CODE);
    e.regWrite('rsp', SCRATCH + 0x800n);
    const fresh = Buffer.from(e.contextSave());
    let inHook: Buffer | undefined;
    const h = e.addInterruptHook(() => {
      inHook = Buffer.from(e.contextSave());
      e.regWrite('rip', SCRATCH + 6n);
    });
    e.emuStart(SCRATCH, 0n, 0, 0);
    h.remove();
    const hits: number[] = [];
    for (let off = 0; inHook && off + 4 <= inHook.length; off += 4) {
      if (inHook.readUInt32LE(off) === 0x1238 && fresh.readUInt32LE(off) !== 0x1238) hits.push(off);
    }
    errCached = hits.length >= 1 ? hits[hits.length - 1]! : null;
  } finally {
    e.close();
  }
  return errCached;
}

/** env->error_code of the exception being reported (inside the interrupt hook). */
export function readErrorCode(e: Engine, off: number): bigint {
  return BigInt(Buffer.from(e.contextSave()).readUInt32LE(off));
}
