// bare.ts - "bare Unicorn": a booted kernel's memory and vCPU 0 context copied into one plain engine, driven by a loop with no machine, scheduler or hooks

import { createEngine } from '../emu/engine.ts';
import type { Engine } from '../emu/types.ts';
import { Prot } from '../emu/types.ts';
import { syscallRipBias } from '../emu/machine/syscallBias.ts';
import type { Kernel } from '../src/kernel/kernel.ts';
import { Syscall, TASK, TIF } from '../src/abi/layout.ts';

/** The state a getpid `syscall` leaves: vCPU 0 at entry_SYSCALL_64, current = the getpid_loop task. */
export interface GetpidState {
  regions: { name: string; base: bigint; size: number; perms: number; bytes: Buffer }[];
  /** uc_context of vCPU 0 (GDT/IDT, GS_BASE, segment caches, MSRs, the user registers). */
  ctx: Uint8Array;
  /** RFLAGS of the user code (R11 after `syscall`). */
  userRflags: bigint;
  /** pid getpid must return. */
  pid: bigint;
  /** entry_SYSCALL_64 (MSR_LSTAR). */
  entry: bigint;
}

const EXIT_WORK = (1n << BigInt(TIF.NEED_RESCHED)) | (1n << BigInt(TIF.SIGPENDING)) | (1n << BigInt(TIF.PATCH_PENDING)) | (1n << BigInt(TIF.NOTIFY_RESUME));

/**
 * Step a booted 1-vCPU deterministic machine until a slice ends right after a
 * getpid `syscall` of the getpid_loop task with no exit-to-user work pending,
 * and copy that state out.
 * @throws when it does not get there within `maxSteps` slices
 */
export function captureGetpidState(k: Kernel, maxSteps = 100_000): GetpidState {
  const m = k.machine;
  if (m.mode !== 'deterministic' || m.vcpus.length !== 1) throw new Error('captureGetpidState needs a 1-vCPU deterministic machine');
  const v = m.vcpus[0]!;
  const entry = k.sym('entry_SYSCALL_64');
  for (let i = 0; i < maxSteps; i++) {
    if (!m.step()) break;
    const [rip, rax, r11] = v.engine.regReadBatch(['rip', 'rax', 'r11']);
    if (v.halted || rip !== entry || rax !== BigInt(Syscall.getpid)) continue;
    const cur = k.currentOn(0);
    if (!cur || cur.comm !== 'getpid_loop' || (cur.tifFlags & EXIT_WORK) !== 0n) continue;
    return {
      regions: m.mem.regions.map((r) => ({ name: r.name, base: r.base, size: r.size, perms: r.perms, bytes: Buffer.from(r.buf) })),
      ctx: v.engine.contextSave(),
      userRflags: r11!,
      pid: BigInt(m.mem.readI32(cur.addr + BigInt(TASK.pid))),
      entry,
    };
  }
  throw new Error('the getpid_loop task never reached entry_SYSCALL_64 with a getpid');
}

/** Where the driver lives in the bare engine (unmapped in the machine's layout). */
export const SCRATCH = 0x10000n;
/** First instruction of the jump driver's loop and its `hlt`. */
const JUMP_LOOP = SCRATCH;
const JUMP_HLT = SCRATCH + 0x1bn;
/** First instruction of the syscall driver's loop and its `hlt`. */
const SYSCALL_LOOP = SCRATCH + 0x40n;
const SYSCALL_HLT = SCRATCH + 0x4cn;

/**
 * Jump driver: what `syscall` does, in plain instructions (no hook), then the
 * kernel's own entry_SYSCALL_64 ... iretq, which returns to `back`:
 *
 *   00 loop: mov eax, 39                 ; __NR_getpid, as user_getpid_loop
 *   05       lea rcx, [rip + back]       ; syscall: RCX = return RIP
 *   0c       pushfq
 *   0d       pop r11                     ;          R11 = RFLAGS
 *   0f       cli                         ;          RFLAGS &= ~SFMASK (IF; TF/DF are clear)
 *   10       jmp qword ptr [rip + slot]  ;          RIP = LSTAR
 *   16 back: dec r15
 *   19       jnz loop
 *   1b       hlt
 *   20 slot: .quad entry_SYSCALL_64
 */
function jumpDriver(entry: bigint): Buffer {
  const b = Buffer.alloc(0x28);
  b.set([
    0xb8, 0x27, 0x00, 0x00, 0x00,
    0x48, 0x8d, 0x0d, 0x0a, 0x00, 0x00, 0x00,
    0x9c,
    0x41, 0x5b,
    0xfa,
    0xff, 0x25, 0x0a, 0x00, 0x00, 0x00,
    0x49, 0xff, 0xcf,
    0x75, 0xe5,
    0xf4,
  ], 0);
  b.writeBigUInt64LE(entry, 0x20);
  return b;
}

/**
 * Syscall driver (the "bare + minimal syscall hook" variant):
 *
 *   40 loop: mov eax, 39
 *   45       syscall                     ; a 1-callback hook does RCX/R11/RFLAGS/RIP
 *   47       dec r15
 *   4a       jnz loop
 *   4c       hlt
 */
const SYSCALL_DRIVER = [0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x49, 0xff, 0xcf, 0x75, 0xf4, 0xf4];

/** Instructions of the driver per iteration (the kernel part is measured, see countPerIteration). */
export const DRIVER_INSNS = { jump: 8, syscall: 4 } as const;

const SFMASK = 0x700n; // IF | TF | DF, as head_64.S writes MSR_SYSCALL_MASK
const RF = 0x10000n;

export type BareKind = keyof typeof DRIVER_INSNS;

/** One plain engine holding a copy of the captured machine. */
export class BareGetpid {
  readonly engine: Engine;
  private readonly loop: bigint;
  private readonly hlt: bigint;

  /**
   * @param kind 'jump': no hooks at all; 'syscall': the real `syscall`
   *   instruction and the smallest hook Unicorn needs for it (two FFI calls).
   */
  constructor(
    private readonly state: GetpidState,
    readonly kind: BareKind,
  ) {
    const e = createEngine();
    this.engine = e;
    for (const r of state.regions) {
      e.memMap(r.base, r.size, r.perms);
      // Only the pages that hold something (most of the heap is zero).
      for (let off = 0; off < r.size; off += 0x1000) {
        const page = r.bytes.subarray(off, off + 0x1000);
        if (page.some((x) => x !== 0)) e.memWrite(r.base + BigInt(off), page);
      }
    }
    e.memMap(SCRATCH, 0x1000, Prot.READ | Prot.EXEC);
    e.memWrite(SCRATCH, jumpDriver(state.entry));
    e.memWrite(SYSCALL_LOOP, Uint8Array.from(SYSCALL_DRIVER));
    e.contextRestore(state.ctx);
    if (kind === 'syscall') {
      const bias = syscallRipBias(createEngine);
      const target = state.entry - bias;
      e.addSyscallHook(() => {
        const [rip, fl] = e.regReadBatch(['rip', 'rflags']);
        e.regWriteBatch(['rcx', 'r11', 'rflags', 'rip'], [rip! + 2n, fl!, fl! & ~(SFMASK | RF), target]);
      });
    }
    this.loop = kind === 'jump' ? JUMP_LOOP : SYSCALL_LOOP;
    this.hlt = kind === 'jump' ? JUMP_HLT : SYSCALL_HLT;
  }

  /**
   * Run `n` getpid round trips (n ≥ 1) in one emuStart.
   * @throws when the loop did not finish or getpid returned the wrong pid
   */
  run(n: number): void {
    const e = this.engine;
    e.regWriteBatch(['r15', 'rflags'], [BigInt(n), this.state.userRflags]);
    e.emuStart(this.loop, 0n, 0, 0);
    const [rip, r15, rax] = e.regReadBatch(['rip', 'r15', 'rax']);
    if (rip !== this.hlt + 1n || r15 !== 0n || rax !== this.state.pid) {
      throw new Error(`bare ${this.kind} driver went wrong: rip 0x${rip!.toString(16)} r15 ${r15} rax ${rax} (pid ${this.state.pid})`);
    }
  }

  /**
   * Untimed: count the instructions of `n` iterations with a code hook and
   * split them into driver and kernel. Leaves the engine instrumented, so
   * call it on an engine that is not timed afterwards.
   */
  countPerIteration(n = 64): { driver: number; kernel: number } {
    let driver = 0;
    let kernel = 0;
    const h = this.engine.addCodeHook((addr) => {
      if (addr >= SCRATCH && addr < SCRATCH + 0x1000n) driver++;
      else kernel++;
    });
    this.run(n);
    h.remove();
    return { driver: driver / n, kernel: kernel / n };
  }

  close(): void {
    this.engine.close();
  }
}
