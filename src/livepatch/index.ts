// index.ts - the livepatch subsystem's public surface, and attaching it to a kernel
import type { Kernel } from '../kernel/kernel.ts';
import { Livepatch, type FtraceApi, type ModuleApi } from './core.ts';
import { Hypercall } from '../abi/layout.ts';

export { Livepatch } from './core.ts';
export type { FtraceApi, ModuleApi, CallbackName } from './core.ts';
export { KlpPatch, KlpObject, KlpFunc, KlpState } from './types.ts';
export type { BlockedTask } from './transition.ts';
export { SIGNALS_TIMEOUT } from './transition.ts';

/**
 * klp_init(): create /sys/kernel/livepatch, serve klp_enable_patch() from
 * module init code (hypercall KLP_ENABLE_PATCH) and /proc/<pid>/patch_state.
 */
export function attachLivepatch(kernel: Kernel, ftrace: FtraceApi, modules: ModuleApi): Livepatch {
  const lp = new Livepatch(kernel, ftrace, modules, kernel.vmalloc, kernel.vfs);
  kernel.machine.hypercalls.register(Hypercall.KLP_ENABLE_PATCH, 'klp_enable_patch', ({ vcpu, args }) =>
    BigInt(lp.klpEnablePatch(args[0]!, vcpu)),
  );
  kernel.vfs.addProvider(
    '/proc/',
    (path) => {
      const m = /^\/proc\/(\d+)\/patch_state$/.exec(path);
      if (!m) return undefined;
      const t = kernel.findTask(Number(m[1]));
      return t ? { mode: 0o400, show: () => `${kernel.findTask(t.pid)?.patchState ?? t.patchState}\n` } : undefined;
    },
    (dir) => {
      if (dir === '/proc' || dir === '/proc/') return kernel.tasks().map((t) => String(t.pid));
      return /^\/proc\/\d+\/?$/.test(dir) && kernel.findTask(Number(dir.split('/')[2])) ? ['patch_state'] : [];
    },
  );
  return lp;
}
