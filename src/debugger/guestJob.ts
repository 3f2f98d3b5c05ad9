// guestJob.ts - a guest shell (klpsh) command the debugger runs under its own control, so breakpoints hit in it

import type { Kernel } from '../kernel/kernel.ts';
import { CMDLINE_LEN, SHELL_MAILBOX, ShellCmd } from '../abi/layout.ts';

/**
 * `cat /proc/...` as a guest task does it. src/kernel/klpsh.ts posts the same
 * mailbox but then runs the machine to completion itself; the debugger posts
 * it and lets its run loop (continue, stepi, …) drive the machine, so a
 * breakpoint in the show function stops the machine with the reader inside.
 */
export class GuestJob {
  private readonly box: bigint;
  readonly seq: bigint;

  private constructor(private readonly k: Kernel, readonly what: string, cmd: number, path: string) {
    const mem = k.machine.mem;
    this.box = k.sym('shell_mailbox');
    const p = Buffer.alloc(CMDLINE_LEN);
    p.write(path.slice(0, CMDLINE_LEN - 1), 'latin1');
    mem.write(this.at(SHELL_MAILBOX.path), p);
    mem.writeU32(this.at(SHELL_MAILBOX.cmd), cmd);
    mem.writeU64(this.at(SHELL_MAILBOX.arg0), 0n);
    mem.writeU64(this.at(SHELL_MAILBOX.out_len), 0n);
    this.seq = mem.readU64(this.at(SHELL_MAILBOX.seq)) + 1n;
    mem.writeU64(this.at(SHELL_MAILBOX.seq), this.seq);
  }

  private at(off: number): bigint {
    return this.box + BigInt(off);
  }

  /** Is the guest shell task idle (its last command finished)? */
  static idle(k: Kernel): boolean {
    const box = k.sym('shell_mailbox');
    const mem = k.machine.mem;
    return mem.readU64(box + BigInt(SHELL_MAILBOX.done_seq)) >= mem.readU64(box + BigInt(SHELL_MAILBOX.seq));
  }

  /** Post `cat PATH` to the guest shell task. @throws when it is still busy */
  static cat(k: Kernel, path: string): GuestJob {
    if (!GuestJob.idle(k)) throw new Error('the guest shell task is still running a command');
    return new GuestJob(k, `cat ${path}`, ShellCmd.CAT, path);
  }

  done(): boolean {
    return this.k.machine.mem.readU64(this.at(SHELL_MAILBOX.done_seq)) >= this.seq;
  }

  /** The command's status (bytes or -errno) and output; only meaningful once done(). */
  result(): { status: bigint; out: string } {
    const mem = this.k.machine.mem;
    const status = BigInt.asIntN(64, mem.readU64(this.at(SHELL_MAILBOX.status)));
    const len = Number(mem.readU64(this.at(SHELL_MAILBOX.out_len)));
    const out = len > 0 ? mem.read(this.at(SHELL_MAILBOX.out), len).toString('latin1') : '';
    return { status, out };
  }
}
