// index.ts - the machine's public surface
export { Machine, createMachine } from './machine.ts';
export type { MachineOptions, MachineSnapshot, RunMode, SnapshotParticipant } from './machine.ts';
export { GuestMemory } from './memory.ts';
export type { Region } from './memory.ts';
export { Vcpu } from './vcpu.ts';
export { HypercallTable } from './hypercalls.ts';
export type { HypercallContext, HypercallHandler } from './hypercalls.ts';
export { Prng } from './prng.ts';
