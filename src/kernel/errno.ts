// errno.ts - the kernel's error numbers and the strings userspace prints for them

/** errno values (include/uapi/asm-generic/errno-base.h, errno.h). */
export const Errno = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, ENOEXEC: 8, EBADF: 9,
  EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, EBUSY: 16, EEXIST: 17, ENODEV: 19, ENOTDIR: 20,
  EISDIR: 21, EINVAL: 22, ENOSPC: 28, ERANGE: 34, ENOSYS: 38, ENODATA: 61, EOVERFLOW: 75,
  ENOKEY: 126, EADDRINUSE: 98,
} as const;

export type ErrnoName = keyof typeof Errno;

/** strerror(3) texts (glibc), as insmod/echo/cat print them. */
const STRERROR: Record<number, string> = {
  1: 'Operation not permitted', 2: 'No such file or directory', 3: 'No such process',
  4: 'Interrupted system call', 5: 'Input/output error', 6: 'No such device or address',
  7: 'Argument list too long', 8: 'Exec format error', 9: 'Bad file descriptor',
  11: 'Resource temporarily unavailable', 12: 'Cannot allocate memory', 13: 'Permission denied',
  14: 'Bad address', 16: 'Device or resource busy', 17: 'File exists', 19: 'No such device',
  20: 'Not a directory', 21: 'Is a directory', 22: 'Invalid argument', 28: 'No space left on device',
  34: 'Numerical result out of range', 38: 'Function not implemented', 61: 'No data available',
  75: 'Value too large for defined data type', 98: 'Address already in use', 126: 'Required key not available',
};

/** strerror(err) for a positive or negative errno. */
export function strerror(err: number): string {
  return STRERROR[Math.abs(err)] ?? `Unknown error ${Math.abs(err)}`;
}

/**
 * kmod's insmod message for a failed init_module(2): it has its own texts for
 * a few errnos (libkmod mod_strerror), strerror otherwise.
 */
export function insmodStrerror(err: number): string {
  switch (Math.abs(err)) {
    case Errno.ENOEXEC: return 'Invalid module format';
    case Errno.ENOENT: return 'Unknown symbol in module, or unknown parameter (see dmesg)';
    case Errno.ENOSYS: return 'Kernel does not have module support';
    case Errno.EINVAL: return 'Invalid parameters';
    default: return strerror(err);
  }
}
