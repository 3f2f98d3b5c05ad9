// views.ts - kernel views: dmesg, ftrace (enabled functions), pokes (text modifications), lsmod, klp

import type { Debugger } from '../session.ts';
import type { Livepatch } from '../../livepatch/index.ts';
import { KlpState } from '../../abi/layout.ts';
import { ftraceRecCount } from '../../ftrace/index.ts';
import { describeAddr, fmtTime, hexBytes } from '../format.ts';
import { patchStateName } from './tasks.ts';
import { CommandError, type Command } from './table.ts';

function dmesg(d: Debugger, args: string): void {
  const lines = d.kernel.dmesg();
  const n = args.trim() ? Number(args.trim()) : lines.length;
  if (!Number.isInteger(n) || n < 0) throw new CommandError('usage: dmesg [LAST_N_LINES]');
  d.print(...lines.slice(lines.length - n));
}

function ftrace(d: Debugger, args: string): void {
  const ft = d.target.ftrace;
  if (!ft || !d.target.tracefs) throw new CommandError('ftrace: not attached to this target');
  const inUse = ft.records.filter((r) => ftraceRecCount(r) > 0 || r.target !== 0n);
  d.print(`${ft.records.length} ftrace sites, ${inUse.length} in use; ftrace_enabled=${ft.ftraceEnabled ? 1 : 0}, tracer=${d.target.tracefs.currentTracer}`);
  const en = d.target.tracefs.enabledFunctions();
  d.write(en || '(no enabled functions)\n');
  if (args.trim() !== 'all') return;
  for (const r of ft.records) {
    const bytes = d.machine.mem.read(r.ip, 5);
    const what = r.target === 0n ? 'nop' : `call ${describeAddr(d.kernel.kallsyms, r.target)}`;
    d.print(`  ${describeAddr(d.kernel.kallsyms, r.ip).padEnd(56)} ${hexBytes(bytes)}  ${what}`);
  }
}

function pokes(d: Debugger, args: string): void {
  if (!d.pokes) throw new CommandError('pokes: ftrace (the text poker) is not attached to this target');
  const verbose = /(^|\s)-v\b/.test(args);
  const n = Number(args.replace(/-v/, '').trim() || d.pokes.records.length);
  const recs = d.pokes.records.slice(-n);
  if (recs.length === 0) return d.print('No text modifications yet.');
  for (const r of recs) {
    d.print(`#${r.seq} ${fmtTime(r.timeNs)} by ${r.by} at ${describeAddr(d.kernel.kallsyms, r.addr)}`);
    d.print(`    ${r.text.before}`, ` -> ${r.text.after}`);
    if (verbose) r.phases.forEach((p, i) => d.print(`    after sync ${i + 1}: ${hexBytes(p)}`));
  }
}

function lsmod(d: Debugger): void {
  if (!d.target.modules) throw new CommandError('lsmod: module loader not available on this target');
  const rows = d.target.modules.list();
  d.print('Module                  Size  Used by');
  for (const r of rows) d.print(`${r.name.padEnd(19)} ${String(r.size).padStart(8)}  ${r.refcnt}${r.holders.length ? ' ' + r.holders.join(',') : ''}`);
}

function klpPatches(d: Debugger, lp: Livepatch): void {
  const ks = d.kernel.kallsyms;
  for (const p of lp.patches) {
    d.print(`patch ${p.modName}: enabled=${p.enabled ? 1 : 0} replace=${p.replace ? 1 : 0}${p.forced ? ' forced' : ''}${lp.transition.patch === p ? ' (in transition)' : ''}`);
    for (const o of p.objs) {
      d.print(`  object ${o.displayName}: ${o.loaded ? 'loaded' : 'not loaded'} patched=${o.patched ? 1 : 0}`);
      for (const f of o.funcs) {
        const to = f.nop ? 'nop (atomic replace)' : describeAddr(ks, f.newFunc);
        d.print(`    func ${f.sysfsName}: ${describeAddr(ks, f.oldFunc)} -> ${to} patched=${f.patched ? 1 : 0} transition=${f.transition ? 1 : 0}`);
      }
    }
  }
}

function klpTransition(d: Debugger, lp: Livepatch): void {
  const tr = lp.transition;
  if (!tr.patch) return d.print('transition: none');
  const target = tr.targetState;
  const tasks = [...d.kernel.idleTasks(), ...d.kernel.tasks()];
  const done = tasks.filter((t) => t.patchState === target).length;
  d.print(`transition: '${tr.patch.modName}' -> ${target === KlpState.PATCHED ? 'patched' : 'unpatched'}: ${done}/${tasks.length} tasks switched, ${tr.attempts} attempts, signals counter ${tr.signalsCnt}`);
  for (const t of tasks.filter((x) => x.patchState !== target)) d.print(`  pending: pid ${t.pid} ${t.comm} patch_state=${patchStateName(t.patchState)}`);
  for (const b of tr.blocked) d.print(`  blocked at the last attempt: pid ${b.pid} ${b.comm}: ${b.reason}: ${b.detail}`);
}

function klp(d: Debugger): void {
  const lp = d.target.livepatch;
  if (!lp) throw new CommandError('klp: livepatch is not attached to this target');
  if (lp.patches.length === 0) d.print('No livepatches.');
  klpPatches(d, lp);
  klpTransition(d, lp);
}

export const VIEW_COMMANDS: Command[] = [
  { name: 'dmesg', category: 'kernel', usage: 'dmesg [N]', summary: 'The kernel log (the last N lines)', run: (d, a) => dmesg(d, a) },
  { name: 'ftrace', category: 'kernel', usage: 'ftrace [all]', summary: 'Enabled ftrace functions; "all" lists every site with its bytes', run: (d, a) => ftrace(d, a) },
  {
    name: 'pokes', category: 'kernel', usage: 'pokes [-v] [N]',
    summary: 'Every text modification: time, who, address, bytes before -> after, disassembled',
    help: '-v also shows the site after each text_poke_sync (int3, tail, head).', run: (d, a) => pokes(d, a),
  },
  { name: 'lsmod', category: 'kernel', usage: 'lsmod', summary: 'Loaded modules', run: (d) => lsmod(d) },
  { name: 'klp', category: 'kernel', usage: 'klp', summary: 'Livepatches, objects, funcs, transition progress and blocking tasks', run: (d) => klp(d) },
];
