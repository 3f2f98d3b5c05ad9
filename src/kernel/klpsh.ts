// klpsh.ts - host side of the guest shell task: run a command as a real guest task

import type { Kernel } from './kernel.ts';
import { SHELL_MAILBOX, ShellCmd, CMDLINE_LEN } from '../abi/layout.ts';

/** Result of a command the klpsh task ran: bytes or a negative errno. */
export interface ShellResult {
  status: bigint;
  out: string;
}

const MAX_NS = 10_000_000_000n;

/**
 * Post a command in shell_mailbox and run the machine until the klpsh task
 * reports it done. The task reads procfs through open/read syscalls and
 * returns to user mode afterwards, like `cat` would.
 */
export function shellCommand(k: Kernel, cmd: number, path = '', arg0 = 0n, arg1 = 0): ShellResult {
  const mem = k.machine.mem;
  const box = k.sym('shell_mailbox');
  const a = (off: number): bigint => box + BigInt(off);
  const p = Buffer.alloc(CMDLINE_LEN);
  p.write(path.slice(0, CMDLINE_LEN - 1), 'latin1');
  mem.write(a(SHELL_MAILBOX.path), p);
  mem.writeU32(a(SHELL_MAILBOX.cmd), cmd);
  mem.writeU64(a(SHELL_MAILBOX.arg0), arg0);
  mem.writeU32(a(SHELL_MAILBOX.arg1), arg1);
  mem.writeU64(a(SHELL_MAILBOX.out_len), 0n);
  const seq = mem.readU64(a(SHELL_MAILBOX.seq)) + 1n;
  mem.writeU64(a(SHELL_MAILBOX.seq), seq);
  const ok = k.runUntil(() => mem.readU64(a(SHELL_MAILBOX.done_seq)) >= seq, MAX_NS);
  if (!ok) throw new Error(`klpsh did not complete command ${cmd} ${path}${k.machine.panicMessage ? `: panic ${k.machine.panicMessage}` : ''}`);
  const status = BigInt.asIntN(64, mem.readU64(a(SHELL_MAILBOX.status)));
  const len = Number(mem.readU64(a(SHELL_MAILBOX.out_len)));
  const out = len > 0 ? mem.read(a(SHELL_MAILBOX.out), len).toString('latin1') : '';
  return { status, out };
}

/** `cat PATH` for a procfs file, read by the guest. */
export function catProc(k: Kernel, path: string): ShellResult {
  return shellCommand(k, ShellCmd.CAT, path);
}

/** `PROGRAM &`: the shell task vforks and the child execs PROGRAM; the child's pid or -errno. */
export function spawnProgram(k: Kernel, path: string): number {
  return Number(shellCommand(k, ShellCmd.SPAWN, path).status);
}

/** kill(2) from the shell task: 0 or -errno. */
export function killTask(k: Kernel, pid: number, sig: number): number {
  return Number(shellCommand(k, ShellCmd.KILL, '', BigInt(pid), sig).status);
}
