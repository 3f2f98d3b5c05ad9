// types.ts - what a validation produces: check results with stable ids, evidence, and the report

/** pass: the property holds; fail: it does not; skip: it could not be decided (not a failure). */
export type CheckStatus = 'pass' | 'fail' | 'skip';

/** One check's outcome. `id` is stable (tools match on it); `verdict` is one line. */
export interface CheckResult {
  id: string;
  /** Report group: 'site', 'bytes', 'new', 'module', 'function', 'relocations', 'trial'. */
  group: string;
  /** What was checked when there are several (a site, a klp func, a relocation section). */
  subject?: string;
  status: CheckStatus;
  verdict: string;
  /** Bytes, disassembly, symbol+offset, dmesg lines: what the verdict rests on. */
  evidence: string[];
}

/** The whole answer for one input (a module or a list of raw patches). */
export interface Report {
  kind: 'module' | 'patch';
  /** The module file or a description of the patch list. */
  input: string;
  /** The vmlinux the checks ran against. */
  kernel: string;
  checks: CheckResult[];
  /** True when no check failed. */
  ok: boolean;
}

/** Bad input (unreadable file, malformed hex, unknown symbol): a one-line message, exit status 2. */
export class ValidateInputError extends Error {
  override readonly name = 'ValidateInputError';
}

/** Every check id, with what it asserts (docs and `--list-checks`). */
export const CHECK_IDS: Record<string, string> = {
  'site.mcount': 'the site is a recorded ftrace location (__mcount_loc)',
  'site.entry': "the site is a function's entry",
  'site.notrace': 'the function is traceable (not notrace, not SYM_CODE, not ftrace machinery)',
  'bytes.old-match': 'the bytes at the site now equal `old`',
  'bytes.ftrace-nop': 'the nop side of the patch is exactly the ftrace nop 0f 1f 44 00 00',
  'new.single-insn': '`new` decodes to exactly one instruction',
  'new.same-length': '`new` has the length of `old` (5 bytes, MCOUNT_INSN_SIZE)',
  'new.opcode': '`new` is call/jmp rel32 (E8/E9) or the ftrace nop',
  'new.target-text': 'the call/jmp target is kernel or module text',
  'new.target-boundary': 'the target is an instruction boundary that is a valid entry (function start, ftrace trampoline)',
  'new.rel32-overflow': 'site + 5 + rel32 neither wraps nor misses the intended target',
  'new.no-straddle': 'the write replaces exactly one whole instruction at an instruction boundary',
  'mod.elf': 'the module is an x86-64 ELF relocatable object with a name',
  'mod.livepatch-modinfo': '.modinfo has livepatch=Y',
  'mod.klp-patch': 'the init function passes a well-formed klp_patch to klp_enable_patch',
  'mod.symbols-exported': 'every undefined symbol is exported by vmlinux',
  'mod.klp-func-resolves': 'each klp func (object, name, sympos) resolves to one function',
  'mod.old-traceable': 'each old function starts with the ftrace nop at a recorded ftrace location',
  'mod.new-traceable': 'each new function starts with the ftrace nop and is in the module __mcount_loc',
  'mod.sizes-known': 'old and new functions are sized symbols (kallsyms size lookups succeed)',
  'mod.no-duplicate-func': 'no two klp funcs patch the same function',
  'mod.relocs-in-range': 'every relocation is in its section and its value fits its type',
  'mod.reloc-target-zero': 'every relocation target field is zero in the file',
  'mod.klp-sym-unique': 'every .klp.sym symbol is well formed and resolves uniquely',
  'trial.boot': 'a scratch machine boots',
  'trial.load': 'insmod succeeds (klp_enable_patch returns 0)',
  'trial.pokes': 'every text poke ftrace made passes the site/bytes/new checks',
  'trial.transition': 'the transition completes within the time limit',
  'trial.new-code': 'calls of the patched functions run the new code',
  'trial.no-oops': 'no oops, panic, BUG or WARNING during the trial',
  'trial.no-hang': 'the guest kept making progress (no loop without guest events)',
  'trial.unload': 'disable, the unpatching transition and rmmod succeed',
  'trial.text-restored': 'kernel text is byte-identical to the snapshot taken before loading',
  'trial.apply': 'text_poke_bp applies the raw patches',
  'trial.revert': 'text_poke_bp reverts the raw patches',
};

/** A check result builder: pass/fail/skip with evidence. */
export function result(id: string, group: string, status: CheckStatus, verdict: string, evidence: string[] = [], subject?: string): CheckResult {
  return subject === undefined ? { id, group, status, verdict, evidence } : { id, group, subject, status, verdict, evidence };
}

/** Build a report from its checks. */
export function makeReport(kind: Report['kind'], input: string, kernel: string, checks: CheckResult[]): Report {
  return { kind, input, kernel, checks, ok: checks.every((c) => c.status !== 'fail') };
}

/** Ids of the failed checks (deduplicated, in report order). */
export function failedIds(r: Report | CheckResult[]): string[] {
  const list = Array.isArray(r) ? r : r.checks;
  return [...new Set(list.filter((c) => c.status === 'fail').map((c) => c.id))];
}
