// errors.ts - EmuError: the typed host/tool failure (Unicorn status, library load, ELF, asm, input, guest)

import {
  UC_ERR_ARG, UC_ERR_EXCEPTION, UC_ERR_FETCH_PROT, UC_ERR_FETCH_UNALIGNED, UC_ERR_FETCH_UNMAPPED,
  UC_ERR_INSN_INVALID, UC_ERR_MAP, UC_ERR_READ_PROT, UC_ERR_READ_UNALIGNED, UC_ERR_READ_UNMAPPED,
  UC_ERR_WRITE_PROT, UC_ERR_WRITE_UNALIGNED, UC_ERR_WRITE_UNMAPPED,
} from './raw/x86Const.ts';

/**
 * Every kind of EmuError, with what it means. The first six classify a failing Unicorn status
 * (see {@link kindForUcErr}); the rest are host or tool failures raised by other layers.
 */
export const EMU_ERROR_KINDS = {
  unmapped: 'Unicorn: access to unmapped memory (UC_ERR_{READ,WRITE,FETCH}_UNMAPPED)',
  prot: 'Unicorn: access violating page protection (UC_ERR_{READ,WRITE,FETCH}_PROT)',
  map: 'Unicorn: invalid or overlapping mapping (UC_ERR_MAP)',
  arg: 'Unicorn: invalid argument or alignment (UC_ERR_ARG, UC_ERR_*_UNALIGNED)',
  exception: 'Unicorn: unhandled CPU exception or invalid instruction (UC_ERR_EXCEPTION, UC_ERR_INSN_INVALID)',
  unicorn: 'Unicorn: any other failing uc_err status',
  load: 'the native library (libunicorn.so.2) could not be loaded',
  closed: 'the engine was used after close()',
  elf: 'an ELF image or module is malformed or unsupported',
  asm: 'assembling or disassembling failed',
  input: 'a caller passed an invalid argument',
  guest: 'the guest reached a state the machine cannot continue from',
} as const;

/** Literal union of the EmuError kinds. */
export type EmuErrorKind = keyof typeof EMU_ERROR_KINDS;

/** Context carried by an EmuError. */
export interface EmuErrorContext {
  /** Failing operation, e.g. 'uc_mem_read', 'dlopen', 'elf_parse'. */
  op?: string;
  /** The uc_err value when a Unicorn call failed. */
  ucErrno?: number;
  /** uc_strerror(ucErrno), e.g. 'Invalid memory read (UC_ERR_READ_UNMAPPED)'. */
  ucStrerror?: string;
  address?: bigint;
  size?: number;
  /** Underlying error (kept out of the message). */
  cause?: unknown;
}

const ERRNO_KINDS = new Map<number, EmuErrorKind>([
  [UC_ERR_READ_UNMAPPED, 'unmapped'], [UC_ERR_WRITE_UNMAPPED, 'unmapped'], [UC_ERR_FETCH_UNMAPPED, 'unmapped'],
  [UC_ERR_READ_PROT, 'prot'], [UC_ERR_WRITE_PROT, 'prot'], [UC_ERR_FETCH_PROT, 'prot'],
  [UC_ERR_MAP, 'map'], [UC_ERR_ARG, 'arg'], [UC_ERR_READ_UNALIGNED, 'arg'],
  [UC_ERR_WRITE_UNALIGNED, 'arg'], [UC_ERR_FETCH_UNALIGNED, 'arg'],
  [UC_ERR_EXCEPTION, 'exception'], [UC_ERR_INSN_INVALID, 'exception'],
]);

/** @returns the EmuError kind for a failing uc_err status. */
export function kindForUcErr(ucErrno: number): EmuErrorKind {
  return ERRNO_KINDS.get(ucErrno) ?? 'unicorn';
}

/** Format an address as Unicorn tools do: 0x-prefixed lowercase hex. */
export function hexAddr(address: bigint): string {
  return `0x${address.toString(16)}`;
}

/**
 * A typed host/tool failure. `message` is one line; the context fields stay machine-readable
 * so tests can assert the exact kind, errno, address and size.
 */
export class EmuError extends Error {
  readonly kind: EmuErrorKind;
  readonly op: string | undefined;
  readonly ucErrno: number | undefined;
  readonly ucStrerror: string | undefined;
  readonly address: bigint | undefined;
  readonly size: number | undefined;

  constructor(kind: EmuErrorKind, message: string, ctx: EmuErrorContext = {}) {
    super(message, ctx.cause === undefined ? undefined : { cause: ctx.cause });
    this.name = 'EmuError';
    this.kind = kind;
    this.op = ctx.op;
    this.ucErrno = ctx.ucErrno;
    this.ucStrerror = ctx.ucStrerror;
    this.address = ctx.address;
    this.size = ctx.size;
  }
}

/**
 * Build the EmuError for a failing Unicorn call, e.g.
 * "uc_mem_read failed: Invalid memory read (UC_ERR_READ_UNMAPPED) at 0xdead0000 size 8".
 */
export function ucError(op: string, ucErrno: number, ucStrerror: string, address?: bigint, size?: number): EmuError {
  let msg = `${op} failed: ${ucStrerror}`;
  if (address !== undefined) msg += ` at ${hexAddr(address)}`;
  if (size !== undefined) msg += ` size ${size}`;
  return new EmuError(kindForUcErr(ucErrno), msg, { op, ucErrno, ucStrerror, address, size });
}
