// index.ts - every debugger command, in the order `help` lists them
import type { Command } from './table.ts';
import { RUNNING_COMMANDS } from './running.ts';
import { BREAKPOINT_COMMANDS } from './breaking.ts';
import { MEMORY_COMMANDS } from './memory.ts';
import { CODE_COMMANDS } from './code.ts';
import { TASK_COMMANDS } from './tasks.ts';
import { VIEW_COMMANDS } from './views.ts';
import { SHELL_COMMANDS } from './shell.ts';
import { SESSION_COMMANDS, INFO_SUBCOMMANDS } from './session.ts';

export const ALL_COMMANDS: readonly Command[] = [
  ...RUNNING_COMMANDS, ...BREAKPOINT_COMMANDS, ...MEMORY_COMMANDS, ...CODE_COMMANDS, ...TASK_COMMANDS,
  ...VIEW_COMMANDS, ...SHELL_COMMANDS, ...SESSION_COMMANDS,
];

export { INFO_SUBCOMMANDS };
export { CommandError } from './table.ts';
export type { Command } from './table.ts';
