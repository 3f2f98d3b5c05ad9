// globalSetup.ts - build vmlinux and the sample modules before the suite when they are missing or stale
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function newest(dir: string): number {
  let t = 0;
  for (const f of readdirSync(dir)) {
    if (f === 'build') continue;
    const p = join(dir, f);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

export default function setup(): void {
  const vmlinux = join(ROOT, 'kernel-image/build/vmlinux');
  const stale = !existsSync(vmlinux) || statSync(vmlinux).mtimeMs < Math.max(newest(join(ROOT, 'kernel-image')), newest(join(ROOT, 'src/build')), newest(join(ROOT, 'src/module')));
  if (stale) execFileSync('npx', ['tsx', 'tools/build-kernel.ts'], { cwd: ROOT, stdio: 'inherit' });
}
