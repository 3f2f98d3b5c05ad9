// klpStructs.ts - the klp_patch a module hands to klp_enable_patch, read from the host-linked image

import { KLP_FUNC, KLP_OBJECT, KLP_PATCH } from '../abi/layout.ts';
import { disassemble, formatInsn } from '../asm/disasm.ts';
import type { KernelView } from './kernelView.ts';
import type { LinkedModule } from './modLink.ts';

/** One struct klp_func as the module declares it. */
export interface DeclFunc {
  /** Object name ('vmlinux' for a NULL name). */
  obj: string;
  oldName: string;
  sympos: number;
  newFunc: bigint;
  /** Where the struct is (for evidence). */
  addr: bigint;
}

/** What the module passes to klp_enable_patch. */
export interface DeclPatch {
  addr: bigint;
  replace: boolean;
  /** Object names in declaration order ('vmlinux' for a NULL name); an object may have no funcs (callbacks only). */
  objects: string[];
  funcs: DeclFunc[];
  /** How the patch was found (the init instructions). */
  evidence: string[];
}

const u64 = (lm: LinkedModule, a: bigint): bigint | undefined => {
  const b = lm.read(a, 8);
  return b ? Buffer.from(b).readBigUInt64LE(0) : undefined;
};

function cstring(lm: LinkedModule, a: bigint, max: number): string | undefined {
  const b = lm.read(a, 1);
  if (!b) return undefined;
  let s = '';
  for (let i = 0; i < max; i++) {
    const c = lm.read(a + BigInt(i), 1)?.[0];
    if (c === undefined) return undefined;
    if (c === 0) return s;
    s += String.fromCharCode(c);
  }
  return undefined;
}

/**
 * The address init passes in RDI to klp_enable_patch: the last
 * `lea rdi, [rip + X]` before the call (how livepatch modules call it).
 */
export function findPatchAddr(lm: LinkedModule, view: KernelView): { addr?: bigint; evidence: string[]; why?: string } {
  const init = lm.symbols.find((s) => s.name === 'init_module' && s.type === 'func');
  if (!init) return { evidence: [], why: 'the module has no init function (MODULE_INIT / init_module): nothing calls klp_enable_patch' };
  const enable = view.kallsyms.lookup('klp_enable_patch');
  if (!enable) return { evidence: [], why: 'the kernel has no klp_enable_patch' };
  const body = lm.read(init.addr, init.size);
  const insns = body ? disassemble(body, init.addr) : [];
  let rdi: { addr: bigint; text: string } | undefined;
  for (const i of insns) {
    const lea = /^rdi, (?:qword ptr )?\[rip(?: ([+-]) (0x[0-9a-f]+|\d+))?\]$/.exec(i.opStr);
    if (i.mnemonic === 'lea' && lea) {
      const d = lea[2] ? BigInt(lea[2]) : 0n;
      rdi = { addr: i.address + BigInt(i.size) + (lea[1] === '-' ? -d : d), text: formatInsn(i) };
    } else if (/\brdi\b/.test(i.opStr.split(',')[0] ?? '') && i.mnemonic !== 'call') rdi = undefined;
    if (i.mnemonic === 'call' && /^0x[0-9a-f]+$/.test(i.opStr) && BigInt(i.opStr) === enable.addr) {
      const ev = [`init ${lm.symbols.find((s) => s.addr === init.addr && s.name !== 'init_module')?.name ?? 'init_module'}: ${rdi?.text ?? '?'}; call klp_enable_patch`];
      if (!rdi) return { evidence: ev, why: 'init calls klp_enable_patch without `lea rdi, [rip + patch]` before it' };
      return { addr: rdi.addr, evidence: ev };
    }
  }
  return { evidence: insns.map((i) => `  ${formatInsn(i)}`).slice(0, 12), why: 'init never calls klp_enable_patch: this is not a livepatch module' };
}

/** Read klp_patch → klp_object[] → klp_func[] from the linked image; a string says what is malformed. */
export function readDeclPatch(lm: LinkedModule, addr: bigint, evidence: string[]): DeclPatch | string {
  const objs = u64(lm, addr + BigInt(KLP_PATCH.objs));
  if (!lm.read(addr, KLP_PATCH.SIZE) || objs === undefined) return `klp_patch at 0x${addr.toString(16)} is not inside the module`;
  const replace = (lm.read(addr + BigInt(KLP_PATCH.replace), 1)?.[0] ?? 0) !== 0;
  const funcs: DeclFunc[] = [];
  const objects: string[] = [];
  if (objs === 0n) return 'klp_patch.objs is NULL';
  for (let o = objs, n = 0; ; o += BigInt(KLP_OBJECT.SIZE), n++) {
    if (n > 64) return 'klp_object array has no terminator within 64 entries';
    const nameP = u64(lm, o + BigInt(KLP_OBJECT.name));
    const funcsP = u64(lm, o + BigInt(KLP_OBJECT.funcs));
    if (nameP === undefined || funcsP === undefined) return `klp_object ${n} at 0x${o.toString(16)} is not inside the module`;
    if (nameP === 0n && funcsP === 0n) break;
    const obj = nameP === 0n ? 'vmlinux' : cstring(lm, nameP, 56);
    if (obj === undefined) return `klp_object ${n}: name pointer 0x${nameP.toString(16)} is not a string in the module`;
    if (funcsP === 0n) return `klp_object ${n} (${obj}): funcs is NULL`;
    objects.push(obj);
    for (let f = funcsP, m = 0; ; f += BigInt(KLP_FUNC.SIZE), m++) {
      if (m > 4096) return `klp_object ${obj}: klp_func array has no terminator`;
      const oldP = u64(lm, f + BigInt(KLP_FUNC.old_name));
      const newFunc = u64(lm, f + BigInt(KLP_FUNC.new_func));
      const sympos = u64(lm, f + BigInt(KLP_FUNC.old_sympos));
      if (oldP === undefined || newFunc === undefined || sympos === undefined) return `klp_func ${m} of ${obj} is not inside the module`;
      if (oldP === 0n && newFunc === 0n && sympos === 0n) break;
      const oldName = oldP === 0n ? undefined : cstring(lm, oldP, 512);
      if (oldName === undefined) return `klp_func ${m} of ${obj}: old_name is not a string in the module`;
      if (newFunc === 0n) return `klp_func ${oldName}: new_func is NULL`;
      funcs.push({ obj, oldName, sympos: Number(sympos), newFunc, addr: f });
    }
  }
  // klp_init_patch_early() wants one object at least; an object with an empty
  // funcs array is fine (test_klp_callbacks_demo patches nothing, it only has callbacks).
  if (objects.length === 0) return 'the klp_object array is empty: klp_enable_patch returns -EINVAL';
  return { addr, replace, objects, funcs, evidence };
}
