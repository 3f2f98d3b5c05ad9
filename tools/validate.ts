// validate.ts - `klpemu validate`: static checks and a trial run of a livepatch module or raw text patches

import { parseArgs } from 'node:util';
import {
  CHECK_IDS, ValidateInputError, readModuleFile, readPatchList, renderAll, renderJson, validateModuleFile, validatePatches,
  type Report, type ValidateOptions,
} from '../src/validate/index.ts';

const HELP = `usage: klpemu validate MODULE.ko... [options]
       klpemu validate --site SYM|ADDR --old BYTES --new BYTES [--target SYM|ADDR] [options]
       klpemu validate --patches FILE.json [options]

  Checks that a livepatch module, or the bytes a patching tool is about to
  write at an ftrace site, are right: static checks (ftrace site, exact nop,
  call/jmp rel32 to a valid entry, relocations, klp funcs), then a trial run on
  a scratch machine (load, transition, probe, oopses, unload, text restored).
  BYTES: hex ('0f 1f 44 00 00'), 'nop' (the ftrace nop) or 'call SYM' / 'jmp SYM'.
  FILE.json: [{"site": ..., "old": ..., "new": ..., "target"?: ...}, ...]

options:
  --kernel PATH       vmlinux (default kernel-image/build/vmlinux)
  --trial, --no-trial run the trial (default: on for modules, off for raw patches)
  --json              JSON report
  -v, --verbose       show the evidence of passing checks too
  --cpus N            vCPUs of the scratch machine (default 2)
  --seed S            interleaving seed (default 1)
  --timeout S         guest seconds a transition may take (default 10)
  --set SYM=VALUE     write a guest u64 before loading, e.g. cmdline_proc_delay_ms=100000 (repeatable)
  --param NAME=VALUE  module parameter (repeatable)
  --with TARGET.ko    a module the patch's klp objects name (repeatable): the function checks
                      resolve against it and the trial loads it first. Default: <object>.ko
                      from the patch module's directory, when there
  --watchdog MS       end a slice after MS of wall time without a guest event (catches
                      loops in new code; ~5x slower). Default: 50 for raw patches, off for modules
  --list-checks       print every check id and what it asserts
exit status: 0 every check passed, 1 a check failed, 2 bad input`;

const num = (v: string | undefined, what: string, min: number, max: number): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ValidateInputError(`${what}: expected an integer ${min}..${max}, got '${v}'`);
  return n;
};

function setsOf(list: string[] | undefined): { sym: string; value: bigint }[] {
  return (list ?? []).map((s) => {
    const m = /^([A-Za-z_][\w.]*)=(-?(?:0x[0-9a-f]+|\d+))$/i.exec(s);
    if (!m) throw new ValidateInputError(`--set: expected SYM=VALUE, got '${s}'`);
    return { sym: m[1]!, value: BigInt.asUintN(64, BigInt(m[2]!)) };
  });
}

function run(argv: string[]): { reports: Report[]; json: boolean; verbose: boolean } | string {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      kernel: { type: 'string' }, trial: { type: 'boolean' }, 'no-trial': { type: 'boolean' }, json: { type: 'boolean' },
      verbose: { type: 'boolean', short: 'v' }, cpus: { type: 'string' }, seed: { type: 'string' }, timeout: { type: 'string' },
      set: { type: 'string', multiple: true }, param: { type: 'string', multiple: true }, watchdog: { type: 'string' },
      site: { type: 'string' }, old: { type: 'string' }, new: { type: 'string' }, target: { type: 'string' },
      patches: { type: 'string' }, 'list-checks': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      with: { type: 'string', multiple: true },
    },
  });
  if (v.help) return HELP + '\n';
  if (v['list-checks']) return Object.entries(CHECK_IDS).map(([id, what]) => `${id.padEnd(24)} ${what}`).join('\n') + '\n';
  const watchdog = num(v.watchdog, '--watchdog', 0, 60_000);
  const cpus = num(v.cpus, '--cpus', 1, 8);
  const seed = num(v.seed, '--seed', 0, 2 ** 31);
  const timeoutS = num(v.timeout, '--timeout', 1, 3600);
  const o: ValidateOptions = {
    ...(v.kernel ? { kernel: v.kernel } : {}), ...(cpus !== undefined ? { cpus } : {}), ...(seed !== undefined ? { seed } : {}),
    ...(timeoutS !== undefined ? { timeoutS } : {}), ...(watchdog !== undefined ? { watchdogUs: watchdog * 1000 } : {}),
    set: setsOf(v.set), params: v.param ?? [],
    ...(v.with ? { objects: v.with.map(readModuleFile) } : {}),
  };
  if (v.trial && v['no-trial']) throw new ValidateInputError('--trial and --no-trial together');
  if (v.trial || v['no-trial']) o.trial = !!v.trial;
  const raw = v.site !== undefined || v.old !== undefined || v.new !== undefined || v.target !== undefined;
  const modes = [raw, v.patches !== undefined, positionals.length > 0].filter(Boolean).length;
  if (modes !== 1) throw new ValidateInputError('give MODULE.ko, or --site/--old/--new, or --patches FILE.json (see --help)');
  if (v.with && positionals.length === 0) throw new ValidateInputError('--with goes with MODULE.ko');
  let reports: Report[];
  if (raw) {
    if (v.site === undefined || v.old === undefined || v.new === undefined) throw new ValidateInputError('--site, --old and --new go together');
    const spec = { site: v.site, old: v.old, new: v.new, ...(v.target !== undefined ? { target: v.target } : {}) };
    reports = [validatePatches([spec], `patch at ${v.site}: ${v.old} → ${v.new}`, o)];
  } else if (v.patches !== undefined) {
    reports = [validatePatches(readPatchList(v.patches), v.patches, o)];
  } else reports = positionals.map((p) => validateModuleFile(p, o));
  return { reports, json: !!v.json, verbose: !!v.verbose };
}

/** @returns 0 when every check of every input passed, 1 when one failed, 2 on bad input */
export async function main(argv: string[]): Promise<number> {
  let r: ReturnType<typeof run>;
  try {
    r = run(argv);
  } catch (e) {
    if (e instanceof ValidateInputError || (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`klpemu validate: ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }
  if (typeof r === 'string') {
    process.stdout.write(r);
    return 0;
  }
  if (r.json) process.stdout.write(r.reports.length === 1 ? renderJson(r.reports[0]!) : `[${r.reports.map((x) => renderJson(x).trim()).join(',\n')}]\n`);
  else process.stdout.write(renderAll(r.reports, { verbose: r.verbose, color: process.stdout.isTTY }));
  return r.reports.every((x) => x.ok) ? 0 : 1;
}
