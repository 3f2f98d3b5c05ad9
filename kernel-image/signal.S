# signal.S - kernel/signal.c: signal delivery on the way to user mode
#
# Only SIGKILL is acted on. Livepatch's "fake signal" (TIF_SIGPENDING with no
# signal queued) just brings a task through exit_to_user_mode_loop, where it
# is switched; get_signal then finds nothing and clears the flag.

SIGKILL = 9

.section .text

# arch_do_signal_or_restart(regs)
SYM_FUNC_START arch_do_signal_or_restart
	push rbp
	mov rbp, rsp
	CURRENT rax
	bt qword ptr [rax + TASK_pending_signals], SIGKILL - 1
	jnc .Lnothing
	mov edi, SIGKILL
	call do_exit
.Lnothing:
	CURRENT rax
	lock btr qword ptr [rax + TASK_flags], TIF_SIGPENDING
	pop rbp
	ret
SYM_FUNC_END arch_do_signal_or_restart

# signal_wake_up(task): TIF_SIGPENDING and a wake-up from interruptible sleep
SYM_FUNC_START signal_wake_up
	push rbp
	mov rbp, rsp
	lock bts qword ptr [rdi + TASK_flags], TIF_SIGPENDING
	mov esi, TaskState_INTERRUPTIBLE
	call wake_up_state
	pop rbp
	ret
SYM_FUNC_END signal_wake_up
