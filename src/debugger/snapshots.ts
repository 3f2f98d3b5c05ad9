// snapshots.ts - named machine snapshots, refused when host-side kernel state would no longer match guest memory

import type { MachineSnapshot } from '../../emu/machine/index.ts';
import type { DebugTarget } from './target.ts';
import type { GuestJob } from './guestJob.ts';
import { ftraceRecCount } from '../ftrace/index.ts';
import { withMachineFlush } from './flush.ts';

/** A named snapshot and the host-side state it is only valid with. */
interface Saved {
  snap: MachineSnapshot;
  /** The guest shell job in flight when it was taken (it is in flight again after a restore). */
  job: GuestJob | undefined;
  host: Record<string, string>;
  timeNs: bigint;
}

/**
 * What of the kernel lives on the host and is not in Machine.snapshot():
 * loaded modules, livepatch patches and transition, ftrace records and
 * tracer, kallsyms. A restore is only safe when all of it is unchanged
 * since the snapshot; otherwise guest memory and host bookkeeping would
 * disagree (e.g. a module the loader thinks is loaded but whose text is gone).
 */
export function hostState(t: DebugTarget): Record<string, string> {
  const s: Record<string, string> = {
    kallsyms: String(t.kernel.kallsyms.all().length),
    modules: (t.modules?.list() ?? []).map((m) => m.name).join(',') || '(none)',
  };
  if (t.livepatch) {
    s.livepatch = t.livepatch.patches.map((p) => `${p.modName}${p.enabled ? '+' : '-'}`).join(',') || '(none)';
    s.transition = t.livepatch.transition.patch?.modName ?? '(none)';
  }
  if (t.ftrace) {
    const used = t.ftrace.records.filter((r) => r.target !== 0n || ftraceRecCount(r) !== 0);
    s.ftrace = used.map((r) => `${r.sym.name}:${(r.flags >>> 0).toString(16)}:${r.target.toString(16)}`).join(',') || '(no sites in use)';
  }
  if (t.tracefs) s.tracer = t.tracefs.currentTracer;
  return s;
}

/** The keys whose values differ, as `key: then -> now` lines. */
function differences(then: Record<string, string>, now: Record<string, string>): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(then), ...Object.keys(now)])) {
    if (then[k] !== now[k]) out.push(`${k}: ${then[k] ?? '?'} -> ${now[k] ?? '?'}`);
  }
  return out;
}

export class Snapshots {
  private readonly saved = new Map<string, Saved>();

  constructor(private readonly target: DebugTarget) {}

  names(): string[] {
    return [...this.saved.keys()];
  }

  /** @throws Error when a livepatch transition runs (its retry timer is host state) */
  take(name: string, job: GuestJob | undefined): Saved {
    const lp = this.target.livepatch;
    if (lp?.transition.patch) {
      throw new Error(`cannot snapshot during the '${lp.transition.patch.modName}' transition: its retry work is a host timer, not part of machine snapshots`);
    }
    const m = this.target.kernel.machine;
    const s: Saved = { snap: m.snapshot(), job, host: hostState(this.target), timeNs: m.nowNs };
    this.saved.set(name, s);
    return s;
  }

  /** @throws Error for an unknown name or changed host-side state */
  restore(name: string): Saved {
    const s = this.saved.get(name);
    if (!s) throw new Error(`no snapshot named '${name}' (have: ${this.names().join(', ') || 'none'})`);
    const diff = differences(s.host, hostState(this.target));
    if (diff.length) {
      throw new Error(`cannot restore '${name}': host-side kernel state changed since it was taken:\n  ${diff.join('\n  ')}\n(undo those changes first, e.g. rmmod, or take a new snapshot)`);
    }
    const m = this.target.kernel.machine;
    withMachineFlush(m, () => m.restore(s.snap));
    return s;
  }
}
