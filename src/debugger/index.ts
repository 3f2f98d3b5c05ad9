// index.ts - the debugger's public surface: the session, targets, the REPL and batch runners
export { Debugger, errorText, REGISTERS, registerName } from './session.ts';
export type { DebuggerOptions } from './session.ts';
export { targetOfKernel, targetOfSystem } from './target.ts';
export type { DebugTarget } from './target.ts';
export { runInteractive, historyPath } from './repl.ts';
export type { ReplOptions } from './repl.ts';
export { runScript, PROMPT } from './script.ts';
export type { ScriptFailure } from './script.ts';
export { complete } from './complete.ts';
export { ALL_COMMANDS, INFO_SUBCOMMANDS, CommandError } from './commands/index.ts';
export type { Command } from './commands/index.ts';
export { main } from './cli.ts';
