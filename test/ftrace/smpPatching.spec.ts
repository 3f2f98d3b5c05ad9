// smpPatching.spec.ts - text_poke_bp under SMP: every vCPU runs getpid loops while an ops on __x64_sys_getpid comes and goes; torn-instruction detector and its negative control
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { symU64 } from '../helpers/kernelImage.ts';
import {
  bootGetpidEverywhere, callBytes, counterHandler, Int3Tracker, newOps, prng, SiteMonitor, textSection, type FtraceKernel,
} from '../helpers/ftraceKit.ts';
import { FTRACE_NOP } from '../../src/abi/layout.ts';

// Each vCPU engine pays for its first translation-cache flush (adding a code hook) - seconds on a loaded host.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

const ROUNDS = 100; // per vCPU count: 200 seeds in all
const EVENT_NS = 10_000n;

interface Rig extends FtraceKernel {
  mon: SiteMonitor;
  int3: Int3Tracker;
  ops: bigint;
  site: bigint;
  handler: ReturnType<typeof counterHandler>;
}

function rig(cpus: number, seed: number): Rig {
  const fk = bootGetpidEverywhere({ cpus, seed });
  const handler = counterHandler(fk.k);
  const ops = newOps(fk.k, handler.addr);
  const site = fk.ftrace.recordOf('__x64_sys_getpid')!.ip;
  expect(fk.ftrace.ftraceSetFilterIp(ops, site, false, true)).toBe(0);
  const mon = new SiteMonitor(fk, site, handler.addr);
  const int3 = new Int3Tracker(fk.k);
  fk.k.machine.runFor(2_000_000n);
  return { ...fk, mon, int3, ops, site, handler };
}

/**
 * One seeded round: register, run, unregister, run; after each text_poke_sync
 * the machine runs 0-40 events' worth (the seed decides), and after a batch's
 * last sync, until no int3 is still on its way to poke_int3_handler (`drain`).
 */
function round(r: Rig, seed: number, drain: boolean): void {
  const rnd = prng(seed);
  const run = (): void => r.k.machine.runFor(BigInt(rnd(0, 40)) * EVENT_NS + 1n);
  r.ftrace.poker.afterSync = () => {
    run();
    if (drain && r.ftrace.poker.syncs % 3 === 0) r.int3.drain();
  };
  expect(r.ftrace.registerFtraceFunction(r.ops)).toBe(0);
  run();
  expect(r.ftrace.unregisterFtraceFunction(r.ops)).toBe(0);
  run();
}

/** Write `bytes` at the site one byte at a time (no int3), syncing and running the machine after each, until the detector fires. */
function naivePoke(r: Rig, bytes: Uint8Array, order: number[]): void {
  const hits = (): number => r.mon.perCpuHits.reduce((a, b) => a + b, 0);
  for (const i of order) {
    r.k.machine.mem.writeU8(r.site + BigInt(i), bytes[i]!);
    r.k.machine.syncCore(r.site, r.site + 5n);
    const seen = hits();
    r.k.machine.runUntil(() => r.mon.torn.length > 0 || hits() > seen + 20, { maxNs: 20_000_000n });
    if (r.mon.torn.length > 0) return;
  }
}

function checkRounds(r: Rig, cpus: number): void {
  const { k, ftrace, mon } = r;
  const text = textSection(k);
  const hitsBefore = [...mon.perCpuHits];
  const syncs0 = ftrace.poker.syncs;
  const batches0 = ftrace.poker.batches;
  const bp0 = symU64(k, 'bp_int3_hits');
  const calls0 = symU64(k, 'user_getpid_calls');
  for (let s = 0; s < ROUNDS; s++) round(r, 1000 * cpus + s, s % 2 === 0); // odd seeds rely on the product's own int3 wait

  expect(mon.torn).toEqual([]);
  expect(mon.staleInsns).toEqual([]);
  expect(mon.mismatches).toEqual([]);
  expect(mon.unmatchedHandler).toEqual([]);
  expect(mon.staleCalls).toBe(0);
  // every state was executed, by every vCPU
  expect(mon.byState.nop).toBeGreaterThan(0);
  expect(mon.byState.call).toBeGreaterThan(0);
  expect(mon.byState.int3).toBeGreaterThan(0);
  expect(mon.byState.torn).toBe(0);
  mon.perCpuHits.forEach((n, cpu) => expect(n, `cpu${cpu}`).toBeGreaterThan(hitsBefore[cpu]!));
  // the guest's own counters agree with the host's hooks
  expect(Number(r.handler.count())).toBe(mon.handlerHits);
  expect(symU64(k, 'bp_int3_hits') - bp0).toBe(BigInt(r.int3.handled));
  expect(r.int3.handled).toBeGreaterThanOrEqual(mon.byState.int3);
  expect(symU64(k, 'user_getpid_calls')).toBeGreaterThan(calls0);
  // two batches per round, three syncs per batch
  expect(ftrace.poker.batches - batches0).toBe(2 * ROUNDS);
  expect(ftrace.poker.syncs - syncs0).toBe(6 * ROUNDS);
  expect(k.oopses).toEqual([]);
  expect(k.machine.panicMessage).toBeUndefined();
  expect(k.machine.mem.read(r.site, 5)).toEqual(Buffer.from(FTRACE_NOP));
  expect(text.now().equals(text.image)).toBe(true);
}

describe('[ftrace/smp]: 4 vCPUs calling __x64_sys_getpid while its ops is registered and unregistered', () => {
  let r: Rig;
  let snap: ReturnType<Rig['k']['machine']['snapshot']>;
  beforeAll(() => {
    r = rig(4, 11);
    snap = r.k.machine.snapshot();
  });
  afterAll(() => r.k.machine.close());
  /** Back to the state right after boot (ftrace's host state is idle both then and between tests). */
  const rewind = (): void => {
    r.k.machine.restore(snap);
    r.mon.reset();
    r.int3.reset();
  };

  it(`${ROUNDS} seeded rounds: no torn or stale execution, every entry runs the handler 0 or 1 times as the bytes say`, () => {
    checkRounds(r, 4);
  });

  it.each([
    ['head first', [0, 1, 2, 3, 4]],
    ['tail first', [4, 3, 2, 1, 0]],
  ])('negative control: a naive byte-by-byte patcher (%s, no int3) is flagged by the same detector', (_name, order) => {
    rewind();
    const call = callBytes(r.site, r.k.sym('ftrace_caller'));
    try {
      naivePoke(r, call, order);
    } catch {
      // the guest may crash on the torn bytes; the detector has spoken by then
    }
    expect(r.mon.torn.length).toBeGreaterThan(0);
    // what the vCPU ran over was a partial write: each byte the nop's or the call's, but neither whole
    const seen = Buffer.from(/\[([0-9a-f ]+)\]/.exec(r.mon.torn.find((t) => t.includes('['))!)![1]!.replace(/ /g, ''), 'hex');
    expect([...seen].every((b, i) => b === FTRACE_NOP[i] || b === call[i])).toBe(true);
    expect(seen.equals(Buffer.from(FTRACE_NOP))).toBe(false);
    expect(seen.equals(Buffer.from(call))).toBe(false);
  });

  // text_poke_bp_batch cannot clear bp_desc under a CPU still in the int3 handler:
  // its sync IPI waits for it (TextPoker.waitInt3Handlers). Rounds without the
  // test-side drain exercise that wait: a vCPU stopped between the int3's
  // delivery and poke_int3_handler's lookup must not die().
  it('without the test-side drain no vCPU oopses on the int3 of a finished batch (the sync waits for it)', () => {
    rewind();
    const waits0 = r.ftrace.poker.int3Waits;
    for (let s = 0; s < 20 && r.k.oopses.length === 0; s++) round(r, 4000 + s, false);
    expect(r.k.oopses).toEqual([]);
    expect(r.ftrace.poker.int3Waits).toBeGreaterThan(waits0);
    expect(r.mon.mismatches).toEqual([]);
  });
});

describe('[ftrace/smp]: 8 vCPUs calling __x64_sys_getpid while its ops is registered and unregistered', () => {
  let r: Rig;
  beforeAll(() => {
    r = rig(8, 15);
  });
  afterAll(() => r.k.machine.close());

  it(`${ROUNDS} seeded rounds: no torn or stale execution, every entry runs the handler 0 or 1 times as the bytes say`, () => {
    checkRounds(r, 8);
  });
});
