// target.ts - what the debugger attaches to: a booted kernel and whichever subsystems are present

import type { Kernel } from '../kernel/kernel.ts';
import { Shell, type ModuleShellApi } from '../kernel/shell.ts';
import type { Ftrace, Tracefs } from '../ftrace/index.ts';
import type { Livepatch } from '../livepatch/index.ts';
import type { System } from '../system.ts';

/**
 * The debugged system. Only the kernel is required: a bare bootKernel()
 * works, and commands whose subsystem is missing say so (e.g. insmod without
 * a module loader prints "module loader not available").
 */
export interface DebugTarget {
  kernel: Kernel;
  shell?: Shell;
  ftrace?: Ftrace;
  tracefs?: Tracefs;
  livepatch?: Livepatch;
  /** The module loader as the shell sees it (src/kernel/shell.ts ModuleShellApi). */
  modules?: ModuleShellApi;
}

/** A full system (createSystem) as a debug target. */
export function targetOfSystem(sys: System): DebugTarget {
  return { kernel: sys.kernel, shell: sys.shell, ftrace: sys.ftrace, tracefs: sys.tracefs, livepatch: sys.livepatch, modules: sys.modules };
}

/** A bare kernel: a shell without module support, no ftrace or livepatch. */
export function targetOfKernel(kernel: Kernel): DebugTarget {
  return { kernel, shell: new Shell(kernel) };
}
