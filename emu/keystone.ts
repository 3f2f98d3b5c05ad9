// keystone.ts - the process's one keystone-wasm load, shared by every module that assembles
//
// loadKeystone() is idempotent only once it has finished: two modules awaiting
// it at top level are evaluated concurrently (ESM top-level await), both start
// an instantiation, and the Keystone objects made on the first then call into
// the second ("null function or function signature mismatch", measured). So
// every assembler awaits this one promise instead.

import { loadKeystone } from 'keystone-wasm';

let loading: Promise<void> | undefined;

/** Resolve when keystone-wasm is loaded; every caller shares the first load. */
export function keystoneReady(): Promise<void> {
  loading ??= loadKeystone();
  return loading;
}
