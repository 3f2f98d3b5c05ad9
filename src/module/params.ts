// params.ts - kernel/params.c: module parameters (int, uint, bool, arrays of them) as insmod sets them and sysfs shows them

import type { GuestMemory } from '../../emu/machine/index.ts';
import type { Kernel } from '../kernel/kernel.ts';
import { Errno } from '../kernel/errno.ts';
import { kstrtobool } from '../kernel/sysfs.ts';
import { LogLevel } from '../kernel/printk.ts';
import { KERNEL_PARAM, KPARAM_ARRAY } from '../abi/layout.ts';

/** One parameter: `type` as modinfo's parmtype says it (int, bool, "array of int"), `addr` its variable or, for an array, its struct kernel_param. */
export interface ModuleParam {
  name: string;
  type: string;
  addr: bigint;
  /** sysfs mode of /sys/module/M/parameters/<name>; 0: no file. */
  perm: number;
}

const ARRAY_OF = 'array of ';

/** The parameters a module's modinfo declares (`parmtype=name:type`); `sym` resolves the module's symbols. */
export function moduleParams(mem: GuestMemory, parmtypes: string[], sym: (name: string) => bigint): Map<string, ModuleParam> {
  const out = new Map<string, ModuleParam>();
  for (const t of parmtypes) {
    const i = t.indexOf(':');
    const name = t.slice(0, i);
    const type = t.slice(i + 1);
    if (type.startsWith(ARRAY_OF)) {
      const kp = sym(`__param_${name}`);
      out.set(name, { name, type, addr: kp, perm: kp ? mem.readU16(kp + BigInt(KERNEL_PARAM.perm)) : 0 });
    } else out.set(name, { name, type, addr: sym(name), perm: 0o644 });
  }
  return out;
}

/** param_get_<type> of one element at `addr`. */
function getOne(mem: GuestMemory, type: string, addr: bigint): string {
  if (type === 'bool') return mem.readU8(addr) ? 'Y' : 'N';
  if (type === 'uint') return String(mem.readU32(addr));
  return String(mem.readI32(addr));
}

/** param_set_<type> of one element at `addr` (kstrtobool; a missing value means true for a bool): 0 or -EINVAL. */
function setOne(mem: GuestMemory, type: string, addr: bigint, value: string | undefined): number {
  if (type === 'bool') {
    const b = value === undefined ? true : kstrtobool(value);
    if (b === undefined) return -Errno.EINVAL;
    mem.write(addr, Uint8Array.of(b ? 1 : 0));
    return 0;
  }
  const v = value?.trim();
  // kstrtoint(s, 0): decimal, 0x hex or 0 octal, optionally signed.
  const m = v === undefined ? null : /^([-+]?)(0x[0-9a-f]+|0[0-7]*|[1-9]\d*)$/i.exec(v);
  if (!m) return -Errno.EINVAL;
  const mag = /^0[0-7]+$/.test(m[2]!) ? BigInt(`0o${m[2]!.slice(1)}`) : BigInt(m[2]!);
  const n = Number(m[1] === '-' ? -mag : mag);
  if (type === 'uint' ? n < 0 || n > 0xffff_ffff : n < -0x8000_0000 || n > 0x7fff_ffff) return -Errno.EINVAL;
  mem.writeU32(addr, n >>> 0);
  return 0;
}

/** struct kparam_array of an array parameter. */
function arrayOf(mem: GuestMemory, p: ModuleParam): { max: number; elemsize: number; num: bigint; elem: bigint } {
  const arr = mem.readU64(p.addr + BigInt(KERNEL_PARAM.arr));
  return {
    max: mem.readU32(arr + BigInt(KPARAM_ARRAY.max)),
    elemsize: mem.readU32(arr + BigInt(KPARAM_ARRAY.elemsize)),
    num: mem.readU64(arr + BigInt(KPARAM_ARRAY.num)),
    elem: mem.readU64(arr + BigInt(KPARAM_ARRAY.elem)),
  };
}

/** The value as /sys/module/M/parameters/P shows it, without the newline (param_array_get: comma-separated). */
export function paramGet(mem: GuestMemory, p: ModuleParam): string {
  if (!p.type.startsWith(ARRAY_OF)) return getOne(mem, p.type, p.addr);
  const a = arrayOf(mem, p);
  const n = a.num ? mem.readU32(a.num) : a.max;
  const type = p.type.slice(ARRAY_OF.length);
  return Array.from({ length: Math.min(n, a.max) }, (_, i) => getOne(mem, type, a.elem + BigInt(i * a.elemsize))).join(',');
}

/**
 * param_set_<type>, or param_array_set for an array: a comma-separated list,
 * at most max values (`<name>: can only take <max> arguments`), their count
 * written to *num. 0 or -errno.
 */
export function paramSet(k: Kernel, p: ModuleParam, value: string | undefined): number {
  const mem = k.machine.mem;
  if (!p.type.startsWith(ARRAY_OF)) return setOne(mem, p.type, p.addr, value);
  const a = arrayOf(mem, p);
  const type = p.type.slice(ARRAY_OF.length);
  const vals = (value ?? '').split(',');
  let num = 0;
  const setNum = (): void => {
    if (a.num) mem.writeU32(a.num, num);
  };
  setNum();
  for (const v of vals) {
    if (num === a.max) {
      k.printk(LogLevel.ERR, `${p.name}: can only take ${a.max} arguments`);
      return -Errno.EINVAL;
    }
    const ret = setOne(mem, type, a.elem + BigInt(num * a.elemsize), v);
    if (ret < 0) return ret;
    num++;
    setNum();
  }
  return 0;
}

/** parse_args(): `name=value` (or a bare `name` for a bool); an unknown name is ignored with a warning. 0 or -EINVAL. */
export function parseArgs(k: Kernel, modName: string, params: Map<string, ModuleParam>, args: string[]): number {
  for (const arg of args) {
    const eq = arg.indexOf('=');
    const key = eq < 0 ? arg : arg.slice(0, eq);
    const value = eq < 0 ? undefined : arg.slice(eq + 1);
    const par = params.get(key);
    if (!par) {
      k.printk(LogLevel.WARNING, `${modName}: unknown parameter '${key}' ignored`);
      continue;
    }
    if (paramSet(k, par, value) < 0) {
      k.printk(LogLevel.ERR, `${modName}: '${value ?? ''}' invalid for parameter '${key}'`);
      return -Errno.EINVAL;
    }
  }
  return 0;
}
