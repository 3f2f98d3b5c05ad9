// system.ts - the whole machine as users drive it: kernel + ftrace + modules + livepatch + shell

import { bootKernel, type BootOptions } from './kernel/boot.ts';
import type { Kernel } from './kernel/kernel.ts';
import { Shell } from './kernel/shell.ts';
import { attachFtrace, type Ftrace, type Tracefs } from './ftrace/index.ts';
import { ModuleLoader } from './module/index.ts';
import { attachLivepatch, type Livepatch } from './livepatch/index.ts';
import { klpModuleComing, klpModuleGoing } from './livepatch/module.ts';

/** A booted kernel with every subsystem attached. */
export interface System {
  kernel: Kernel;
  ftrace: Ftrace;
  tracefs: Tracefs;
  modules: ModuleLoader;
  livepatch: Livepatch;
  shell: Shell;
}

/** Boot a kernel and attach ftrace (ftrace_init), the module loader, livepatch (klp_init) and a shell. */
export function createSystem(opts: BootOptions = {}): System {
  const kernel = bootKernel(opts);
  const { ftrace, tracefs } = attachFtrace(kernel);
  const modules = new ModuleLoader(kernel);
  modules.ftrace = ftrace;
  const livepatch = attachLivepatch(kernel, ftrace, modules);
  // klp_module_coming/going: patch a module's functions before its init runs, unpatch after its exit.
  modules.notifier = {
    coming: (mod) => klpModuleComing(livepatch, mod.name, modules),
    going: (mod) => klpModuleGoing(livepatch, mod.name, modules),
  };
  const shell = new Shell(kernel, modules);
  return { kernel, ftrace, tracefs, modules, livepatch, shell };
}
