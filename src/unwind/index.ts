// index.ts - the unwinder's public surface: reliable stack traces and show_stack
export { stackTraceSaveTskReliable, showStack, formatStack, inRanges, MAX_STACK_ENTRIES, UNRELIABLE_REASONS } from './stacktrace.ts';
export type { UnreliableReason, ReliableStackTrace, ReliableOptions, TextPredicates, ShownStack, ShownFrame } from './stacktrace.ts';
export { switchedOutTask } from './unwindFrame.ts';
export type { StackReader, UnwindTask, UnwindStart, SwitchFrame, Frame, UnwindVerdict } from './unwindFrame.ts';
