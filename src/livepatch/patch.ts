// patch.ts - per-function redirection: klp_ops, func_stack, ftrace registration (kernel/livepatch/patch.c)

import type { Livepatch } from './core.ts';
import { KlpFunc, type KlpObject } from './types.ts';
import { initListHead, listAddRcu, listDelRcu, listNodes } from './list.ts';
import { FTRACE_OPS, FTRACE_OPS_FL, KLP_FUNC, KLP_OPS } from '../abi/layout.ts';
import { Errno } from '../kernel/errno.ts';

/** One klp_ops per patched function address (guest memory, KLP_OPS layout). */
export interface KlpOps {
  addr: bigint;
  oldFunc: bigint;
}

const KLP_FOPS_FLAGS = FTRACE_OPS_FL.DYNAMIC | FTRACE_OPS_FL.SAVE_REGS | FTRACE_OPS_FL.IPMODIFY | FTRACE_OPS_FL.PERMANENT;

export const fopsOf = (ops: KlpOps): bigint => ops.addr + BigInt(KLP_OPS.fops);
const stackHead = (ops: KlpOps): bigint => ops.addr + BigInt(KLP_OPS.func_stack);

/** klp_find_ops(): the ops of an old function address, if any. */
export function klpFindOps(lp: Livepatch, oldFunc: bigint): KlpOps | undefined {
  return lp.ops.find((o) => o.oldFunc === oldFunc);
}

/** The func_stack of an ops, newest first, as KlpFunc views of the funcs the core knows. */
export function funcStack(lp: Livepatch, ops: KlpOps): KlpFunc[] {
  return listNodes(lp.mem, stackHead(ops)).map((node) => lp.funcByAddr(node - BigInt(KLP_FUNC.stack_node)));
}

function klpAllocOps(lp: Livepatch, oldFunc: bigint): KlpOps {
  const addr = lp.vmalloc.alloc(KLP_OPS.SIZE);
  lp.mem.write(addr, new Uint8Array(KLP_OPS.SIZE));
  const ops = { addr, oldFunc };
  initListHead(lp.mem, stackHead(ops));
  const f = fopsOf(ops);
  lp.mem.writeU64(f + BigInt(FTRACE_OPS.func), lp.kernel.sym('klp_ftrace_handler'));
  lp.mem.writeU64(f + BigInt(FTRACE_OPS.flags), BigInt(KLP_FOPS_FLAGS));
  lp.mem.writeU64(f + BigInt(FTRACE_OPS.private), addr);
  return ops;
}

/** klp_patch_func(): first user registers an ftrace ops; later ones stack on top. */
export function klpPatchFunc(lp: Livepatch, func: KlpFunc): number {
  if (lp.warnOn(func.oldFunc === 0n, 'func->old_func == 0')) return -Errno.EINVAL;
  if (lp.warnOn(func.patched, 'func->patched')) return -Errno.EINVAL;
  let ops = klpFindOps(lp, func.oldFunc);
  if (!ops) {
    const ftraceLoc = lp.ftrace.ftraceLocation(func.oldFunc);
    if (ftraceLoc === 0n) {
      lp.prErr(`failed to find location for function '${func.oldName}'`);
      return -Errno.EINVAL;
    }
    ops = klpAllocOps(lp, func.oldFunc);
    listAddRcu(lp.mem, func.stackNode, stackHead(ops));
    let ret = lp.ftrace.ftraceSetFilterIp(fopsOf(ops), ftraceLoc, false, false);
    if (ret) {
      lp.prErr(`failed to set ftrace filter for function '${func.oldName}' (${ret})`);
      return klpFreeOpsOnError(lp, ops, ret);
    }
    ret = lp.ftrace.registerFtraceFunction(fopsOf(ops));
    if (ret) {
      lp.prErr(`failed to register ftrace handler for function '${func.oldName}' (${ret})`);
      lp.ftrace.ftraceSetFilterIp(fopsOf(ops), ftraceLoc, true, false);
      return klpFreeOpsOnError(lp, ops, ret);
    }
    lp.ops.push(ops);
  } else {
    listAddRcu(lp.mem, func.stackNode, stackHead(ops));
  }
  func.patched = true;
  return 0;
}

function klpFreeOpsOnError(lp: Livepatch, ops: KlpOps, ret: number): number {
  lp.vmalloc.release(ops.addr);
  return ret;
}

/** klp_unpatch_func(): the last user unregisters and frees the ops. */
export function klpUnpatchFunc(lp: Livepatch, func: KlpFunc): void {
  if (lp.warnOn(!func.patched, '!func->patched')) return;
  const ops = klpFindOps(lp, func.oldFunc);
  if (lp.warnOn(!ops, 'klp_find_ops() == NULL') || !ops) return;
  const stack = listNodes(lp.mem, stackHead(ops));
  if (stack.length === 1) {
    const ftraceLoc = lp.ftrace.ftraceLocation(func.oldFunc);
    lp.warnOn(lp.ftrace.unregisterFtraceFunction(fopsOf(ops)) !== 0, 'unregister_ftrace_function()');
    lp.warnOn(lp.ftrace.ftraceSetFilterIp(fopsOf(ops), ftraceLoc, true, false) !== 0, 'ftrace_set_filter_ip()');
    listDelRcu(lp.mem, func.stackNode);
    lp.ops.splice(lp.ops.indexOf(ops), 1);
    lp.vmalloc.release(ops.addr);
  } else {
    listDelRcu(lp.mem, func.stackNode);
  }
  func.patched = false;
}

/** __klp_unpatch_object(obj, nops_only). */
export function klpUnpatchObjectLocked(lp: Livepatch, obj: KlpObject, nopsOnly: boolean): void {
  for (const func of obj.funcs) {
    if (nopsOnly && !func.nop) continue;
    if (func.patched) klpUnpatchFunc(lp, func);
  }
  if (obj.dynamic || !nopsOnly) obj.patched = false;
}

export function klpUnpatchObject(lp: Livepatch, obj: KlpObject): void {
  klpUnpatchObjectLocked(lp, obj, false);
}

/** klp_patch_object(): patch every func; on failure undo this object. */
export function klpPatchObject(lp: Livepatch, obj: KlpObject): number {
  if (lp.warnOn(obj.patched, 'obj->patched')) return -Errno.EINVAL;
  for (const func of obj.funcs) {
    const ret = klpPatchFunc(lp, func);
    if (ret) {
      klpUnpatchObject(lp, obj);
      return ret;
    }
  }
  obj.patched = true;
  return 0;
}
