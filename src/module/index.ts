// index.ts - modules: the loader (load_module/free_module) and the module assembler
export { ModuleLoader } from './loader.ts';
export type { Module, ModuleNotifier } from './loader.ts';
export { buildModule, moduleNameOf } from './build.ts';
export { buildModuleFile, moduleSources, modulePrelude } from './sources.ts';
export { deriveRelocs, applyReloc } from './relocs.ts';
