// index.ts - the emu/ public surface: engine factory, engine types, EmuError, library probe

export { createEngine } from './engine.ts';
export { EmuError, EMU_ERROR_KINDS } from './errors.ts';
export type { EmuErrorKind, EmuErrorContext } from './errors.ts';
export { unicornAvailable } from './raw/unicorn.ts';
export { Prot } from './types.ts';
export type {
  Engine, HookHandle, MemRegion, MemAccess, CodeHook, InterruptHook, InvalidMemHook, SyscallHook,
  OutHook, MemWriteHook, X86Reg, TableReg, NativeSyscallHandle, NativeBlockCounterHandle,
} from './types.ts';
