// transition.ts - the consistency model: per-task patch_state, stack checks, signals, force (kernel/livepatch/transition.c)

import type { Livepatch } from './core.ts';
import type { KlpPatch, KlpFunc } from './types.ts';
import { KlpState } from './types.ts';
import { funcStack, klpFindOps } from './patch.ts';
import { klpUnpatchReplacedPatches, klpDiscardNops } from './replace.ts';
import { TASK, TIF, Clock, PF, Vector } from '../abi/layout.ts';
import { isKthread, type TaskView } from '../kernel/tasks.ts';
import { Errno } from '../kernel/errno.ts';

/** Rounds between fake-signal waves (SIGNALS_TIMEOUT). */
export const SIGNALS_TIMEOUT = 15;
/** round_jiffies_relative(HZ): one second of guest time between retries. */
const RETRY_NS = BigInt(Clock.HZ) * 10_000_000n;

/** Why a task could not be switched (klp_try_switch_task's errnos). */
export interface BlockedTask {
  pid: number;
  comm: string;
  reason: 'running' | 'unreliable-stack' | 'sleeping-on-function';
  detail: string;
}

/**
 * Transition state: klp_transition_patch, klp_target_state (also published to
 * the guest global `klp_target_state`, read by klp_update_patch_state), the
 * signal counter, and the delayed retry work on a host timer.
 */
export class Transition {
  private current: KlpPatch | undefined;
  signalsCnt = 0;
  /** Tasks that blocked the last attempt, and why (debugger `klp`, validator). */
  blocked: BlockedTask[] = [];
  attempts = 0;
  stackChecks = 0;
  private cancelWork: (() => void) | undefined;

  constructor(private readonly lp: Livepatch) {}

  /** klp_transition_patch, also published to the guest global of that name (klp_get_prev_state reads it). */
  get patch(): KlpPatch | undefined {
    return this.current;
  }

  set patch(p: KlpPatch | undefined) {
    this.current = p;
    this.lp.mem.writeU64(this.lp.kernel.sym('klp_transition_patch'), p?.addr ?? 0n);
  }

  get targetState(): number {
    return this.lp.mem.readI32(this.lp.kernel.sym('klp_target_state'));
  }

  set targetState(v: number) {
    this.lp.mem.writeI32(this.lp.kernel.sym('klp_target_state'), v);
  }

  private allTasks(): TaskView[] {
    return [...this.lp.kernel.tasks(), ...this.lp.kernel.idleTasks()];
  }

  private setPatchState(t: TaskView, v: number): void {
    this.lp.mem.writeI32(t.addr + BigInt(TASK.patch_state), v);
  }

  private setTif(t: TaskView, bit: number, on: boolean): void {
    // Host writes happen between guest instructions, so this read-modify-write
    // cannot interleave with the guest's lock-prefixed bit operations.
    const a = t.addr + BigInt(TASK.flags);
    const m = 1n << BigInt(bit);
    const v = this.lp.mem.readU64(a);
    this.lp.mem.writeU64(a, on ? v | m : v & ~m);
  }

  private stateName(s: number): string {
    return s === KlpState.PATCHED ? 'patching' : 'unpatching';
  }

  /** klp_init_transition(): every task starts in the opposite state. */
  klpInitTransition(patch: KlpPatch, state: number): void {
    this.lp.warnOn(this.targetState !== KlpState.UNDEFINED, 'klp_target_state != KLP_TRANSITION_IDLE');
    this.patch = patch;
    this.targetState = state;
    this.lp.prDebug('klp_init_transition', `'${patch.modName}': initializing ${this.stateName(state)} transition`);
    const initial = state === KlpState.PATCHED ? KlpState.UNPATCHED : KlpState.PATCHED;
    for (const t of this.allTasks()) {
      this.lp.warnOn(t.patchState !== KlpState.UNDEFINED, 'task->patch_state != KLP_TRANSITION_IDLE');
      this.setPatchState(t, initial);
    }
    // The partner of this ordering is klp_ftrace_handler(): tasks have their
    // initial state before any func is marked in transition.
    for (const obj of patch.objs) for (const f of obj.funcs) f.transition = true;
  }

  /** klp_start_transition(): flag every task that still has to switch. */
  klpStartTransition(): void {
    const patch = this.patch;
    if (this.lp.warnOn(!patch, 'klp_transition_patch == NULL') || !patch) return;
    const target = this.targetState;
    this.lp.prNotice(`'${patch.modName}': starting ${this.stateName(target)} transition`);
    for (const t of this.allTasks()) if (t.patchState !== target) this.setTif(t, TIF.PATCH_PENDING, true);
    this.signalsCnt = 0;
  }

  /** klp_check_stack_func(): the address range a task's stack must not hold. */
  private checkedRange(func: KlpFunc): [bigint, bigint] {
    if (this.targetState === KlpState.UNPATCHED) return [func.newFunc, func.newFunc + func.newSize];
    const ops = klpFindOps(this.lp, func.oldFunc);
    const stack = ops ? funcStack(this.lp, ops) : [];
    const i = stack.indexOf(func);
    const prev = i >= 0 ? stack[i + 1] : undefined;
    if (!prev) return [func.oldFunc, func.oldFunc + func.oldSize];
    return [prev.newFunc, prev.newFunc + prev.newSize];
  }

  /** klp_check_stack(): 0, -EINVAL (unreliable) or -EADDRINUSE (sleeping on a func). */
  private klpCheckStack(t: TaskView): { ret: number; detail: string } {
    this.stackChecks++;
    const trace = this.lp.kernel.stackTraceReliable(t);
    if (!trace.ok) return { ret: -Errno.EINVAL, detail: trace.detail };
    for (const obj of this.patch!.objs) {
      if (!obj.patched) continue;
      for (const func of obj.funcs) {
        const [lo, hi] = this.checkedRange(func);
        const hit = trace.entries.find((a) => a >= lo && a < hi);
        if (hit !== undefined) return { ret: -Errno.EADDRINUSE, detail: func.oldName };
      }
    }
    return { ret: 0, detail: '' };
  }

  /** klp_try_switch_task(): switch a task not running anywhere whose stack is clean. */
  klpTrySwitchTask(t: TaskView): boolean {
    if (t.patchState === this.targetState) return true;
    const fn = 'klp_try_switch_task';
    if (t.onCpu) return this.blockedBy(t, 'running', `${fn}: ${t.comm}:${t.pid} is running`, '');
    const { ret, detail } = this.klpCheckStack(t);
    if (ret === -Errno.EINVAL) return this.blockedBy(t, 'unreliable-stack', `${fn}: ${t.comm}:${t.pid} has an unreliable stack`, detail);
    if (ret === -Errno.EADDRINUSE) return this.blockedBy(t, 'sleeping-on-function', `${fn}: ${t.comm}:${t.pid} is sleeping on function ${detail}`, detail);
    this.setTif(t, TIF.PATCH_PENDING, false);
    this.setPatchState(t, this.targetState);
    return true;
  }

  private blockedBy(t: TaskView, reason: BlockedTask['reason'], msg: string, detail: string): false {
    this.lp.prDebug('klp_try_switch_task', msg);
    this.blocked.push({ pid: t.pid, comm: t.comm, reason, detail: detail || msg });
    return false;
  }

  /** klp_try_complete_transition(): one attempt; re-arms itself while tasks remain. */
  klpTryCompleteTransition(): boolean {
    const patch = this.patch;
    if (this.lp.warnOn(this.targetState === KlpState.UNDEFINED, 'klp_target_state == KLP_TRANSITION_IDLE') || !patch) return false;
    this.blocked = [];
    this.attempts++;
    let complete = true;
    for (const t of this.lp.kernel.tasks()) if (!this.klpTrySwitchTask(t)) complete = false;
    // Ditto for the idle "swapper" tasks: kick a CPU whose idle task did not switch.
    for (const t of this.lp.kernel.idleTasks()) {
      if (this.klpTrySwitchTask(t)) continue;
      complete = false;
      this.wakeUpIfIdle(t.cpu);
    }
    if (!complete) {
      if (this.signalsCnt && !(this.signalsCnt % SIGNALS_TIMEOUT)) this.klpSendSignals();
      this.signalsCnt++;
      this.scheduleRetry();
      return false;
    }
    this.klpCompleteTransition();
    if (!patch.enabled) this.lp.klpFreePatch(patch);
    else if (patch.replace) this.freeReplaced(patch);
    return true;
  }

  private freeReplaced(patch: KlpPatch): void {
    for (const old of [...this.lp.patches]) if (old !== patch && !old.enabled) this.lp.klpFreePatch(old);
  }

  /** wake_up_if_idle(cpu): a CPU running its idle task goes once through the idle loop. */
  private wakeUpIfIdle(cpu: number): void {
    const k = this.lp.kernel;
    const cur = k.currentOn(cpu);
    if (!cur || !(cur.pfFlags & PF.IDLE)) return;
    this.setTif(cur, TIF.NEED_RESCHED, true);
    k.machine.raiseInterrupt(cpu, Vector.RESCHEDULE);
  }

  /** schedule_delayed_work(&klp_transition_work, round_jiffies_relative(HZ)). */
  private scheduleRetry(): void {
    this.cancelWork?.();
    const m = this.lp.kernel.machine;
    this.cancelWork = m.addTimer(m.nowNs + RETRY_NS, () => {
      this.cancelWork = undefined;
      if (this.patch) this.klpTryCompleteTransition();
    });
  }

  /** klp_complete_transition(). */
  klpCompleteTransition(): void {
    const patch = this.patch!;
    const target = this.targetState;
    this.cancelWork?.();
    this.cancelWork = undefined;
    this.lp.prDebug('klp_complete_transition', `'${patch.modName}': completing ${this.stateName(target)} transition`);
    if (patch.replace && target === KlpState.PATCHED) {
      klpUnpatchReplacedPatches(this.lp, patch);
      klpDiscardNops(this.lp, patch);
    }
    if (target === KlpState.UNPATCHED) this.lp.klpUnpatchObjects(patch);
    for (const obj of patch.objs) for (const f of obj.funcs) f.transition = false;
    for (const t of this.allTasks()) {
      this.lp.warnOn((t.tifFlags & (1n << BigInt(TIF.PATCH_PENDING))) !== 0n, 'test_tsk_thread_flag(task, TIF_PATCH_PENDING)');
      this.setPatchState(t, KlpState.UNDEFINED);
    }
    for (const obj of patch.objs) {
      if (!obj.loaded) continue;
      if (target === KlpState.PATCHED) this.lp.callback(obj, 'post_patch');
      else if (obj.postUnpatchEnabled) {
        this.lp.callback(obj, 'post_unpatch');
        obj.postUnpatchEnabled = false;
      }
    }
    this.lp.prNotice(`'${patch.modName}': ${target === KlpState.PATCHED ? 'patching' : 'unpatching'} complete`);
    this.targetState = KlpState.UNDEFINED;
    this.patch = undefined;
    this.blocked = [];
  }

  /** klp_cancel_transition(): an enable failed before it started. */
  klpCancelTransition(): void {
    const patch = this.patch;
    if (this.lp.warnOn(this.targetState !== KlpState.PATCHED, 'klp_target_state != KLP_TRANSITION_PATCHED') || !patch) return;
    this.lp.prDebug('klp_cancel_transition', `'${patch.modName}': canceling patching transition, going to unpatch`);
    this.targetState = KlpState.UNPATCHED;
    this.klpCompleteTransition();
  }

  /** klp_reverse_transition(): `enabled` written during a transition. */
  klpReverseTransition(): void {
    const patch = this.patch!;
    const from = this.targetState === KlpState.PATCHED ? 'patching to unpatching' : 'unpatching to patching';
    this.lp.prDebug('klp_reverse_transition', `'${patch.modName}': reversing transition from ${from}`);
    for (const t of this.allTasks()) this.setTif(t, TIF.PATCH_PENDING, false);
    patch.enabled = !patch.enabled;
    this.targetState = this.targetState === KlpState.PATCHED ? KlpState.UNPATCHED : KlpState.PATCHED;
    this.klpStartTransition();
    this.scheduleRetry();
  }

  /** klp_force_transition(): switch everyone now, unsafe; the patch module stays pinned. */
  klpForceTransition(): void {
    this.lp.prWarn('forcing remaining tasks to the patched state');
    for (const t of this.allTasks()) {
      if ((t.tifFlags & (1n << BigInt(TIF.PATCH_PENDING))) === 0n) continue;
      this.setTif(t, TIF.PATCH_PENDING, false);
      this.setPatchState(t, this.targetState);
    }
    if (this.targetState === KlpState.UNPATCHED) this.patch!.forced = true;
    else if (this.patch!.replace) for (const p of this.lp.patches) if (p !== this.patch) p.forced = true;
  }

  /** klp_send_signals(): fake signals to user tasks, wake-ups for kthreads. */
  klpSendSignals(): void {
    if (this.signalsCnt === SIGNALS_TIMEOUT) this.lp.prNotice('signaling remaining tasks');
    for (const t of this.lp.kernel.tasks()) {
      if ((t.tifFlags & (1n << BigInt(TIF.PATCH_PENDING))) === 0n) continue;
      if (!isKthread(t)) this.setTif(t, TIF.SIGPENDING, true);
      this.lp.kernel.requestWakeUp(t);
    }
  }
}
