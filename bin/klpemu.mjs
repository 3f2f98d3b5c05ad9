#!/usr/bin/env node
// klpemu.mjs - the installed `klpemu` binary: runs tools/klpemu.ts through tsx
import { register } from 'tsx/esm/api';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

register();
const here = dirname(fileURLToPath(import.meta.url));
const { main } = await import(join(here, '..', 'tools', 'klpemu.ts'));
process.exit(await main(process.argv.slice(2)));
