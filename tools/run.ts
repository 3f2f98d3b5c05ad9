// run.ts - `klpemu run`: the main demo - boot, live-patch cmdline_proc_show with a task in the way, undo it

import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { createSystem, type System } from '../src/system.ts';
import { TEST_MODULES } from '../src/selftests/functions.ts';
import { DEFAULT_VMLINUX } from '../src/kernel/loadImage.ts';

const HELP = `usage: klpemu run [--cpus N] [--seed S] [--free] [--kernel PATH] [--boot-only]
  --cpus N      vCPUs, 1..8 (default 2)
  --seed S      interleaving seed (default 1)
  --free        fast free-running mode (NON-DETERMINISTIC)
  --kernel PATH vmlinux (default kernel-image/build/vmlinux)
  --boot-only   boot, print dmesg and a guest task's read of /proc/cmdline, stop
  --delay-ms MS how long a reader sleeps inside cmdline_proc_show (default 2500)`;

const SECOND = 1_000_000_000n;

class Story {
  private seen = 0;
  constructor(readonly sys: System, private readonly out: (s: string) => void) {}

  /** Print dmesg lines that appeared since the last call. */
  dmesg(): void {
    const all = this.sys.kernel.dmesg();
    for (const l of all.slice(this.seen)) this.out(`  ${l}\n`);
    this.seen = all.length;
  }

  sh(line: string): number {
    this.out(`\n# ${line}\n`);
    const r = this.sys.shell.run(line);
    if (r.out) this.out(r.out);
    if (r.err) this.out(r.err);
    this.dmesg();
    return r.status;
  }

  /** Let guest time pass, reporting who holds the transition back after each retry. */
  waitTransition(patch: string, maxS: number): boolean {
    const lp = this.sys.livepatch;
    for (let s = 0; s < maxS; s++) {
      if (!lp.transition.patch) return true;
      this.sys.kernel.machine.runFor(SECOND);
      this.dmesg();
      for (const b of lp.transition.blocked) this.out(`  [transition of '${patch}' waits for ${b.comm}:${b.pid}: ${b.detail}]\n`);
    }
    return !lp.transition.patch;
  }
}

/** @returns the exit code */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      cpus: { type: 'string', default: '2' }, seed: { type: 'string', default: '1' },
      free: { type: 'boolean', default: false }, kernel: { type: 'string' }, 'boot-only': { type: 'boolean', default: false },
      'delay-ms': { type: 'string', default: '2500' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const sys = createSystem({
    cpus: Number(values.cpus), seed: Number(values.seed), mode: values.free ? 'free' : 'deterministic', kernel: values.kernel ?? DEFAULT_VMLINUX,
  });
  const out = (s: string): void => void process.stdout.write(s);
  const story = new Story(sys, out);
  out('# dmesg (boot)\n');
  story.dmesg();
  if (story.sh('cat /proc/cmdline') !== 0) return 1;
  if (values['boot-only']) return 0;
  return demo(sys, story, out, Number(values['delay-ms']));
}

async function demo(sys: System, story: Story, out: (s: string) => void, delayMs: number): Promise<number> {
  const k = sys.kernel;
  // Readers now sleep inside cmdline_proc_show: the old function stays on their stacks for a while.
  k.machine.mem.writeU64(k.sym('cmdline_proc_delay_ms'), BigInt(delayMs));
  out(`\n# (cmdline_proc_show now sleeps ${delayMs} ms before printing: the cat_cmdline task will be inside it)\n`);
  k.machine.runFor(SECOND / 2n);
  const ko = join(TEST_MODULES, 'livepatch-sample.ko');
  if (story.sh(`insmod ${ko}`) !== 0) return 1;
  story.sh('cat /sys/kernel/livepatch/livepatch_sample/transition');
  if (!story.waitTransition('livepatch_sample', 30)) return 1;
  story.sh('cat /sys/kernel/livepatch/livepatch_sample/transition');
  k.machine.mem.writeU64(k.sym('cmdline_proc_delay_ms'), 0n);
  story.sh('cat /proc/cmdline');
  story.sh('cat /sys/kernel/tracing/enabled_functions');
  story.sh('echo 0 > /sys/kernel/livepatch/livepatch_sample/enabled');
  if (!story.waitTransition('livepatch_sample', 30)) return 1;
  story.sh('rmmod livepatch_sample');
  story.sh('cat /proc/cmdline');
  story.sh('lsmod');
  k.machine.close();
  return 0;
}
