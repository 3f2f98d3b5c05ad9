# idle.S - kernel/sched/idle.c: the idle loop of every CPU
#
# After schedule_idle() the idle task may have a pending livepatch switch:
# it takes it here (klp_update_patch_state), as do_idle() does; the host's
# transition kicks an idle CPU through this loop with a reschedule IPI.

.section .text

SYM_FUNC_START_NOTRACE do_idle
	push rbp
	mov rbp, rsp
.Lidle_loop:
	cli
	CURRENT rax
	bt qword ptr [rax + TASK_flags], TIF_NEED_RESCHED
	jc .Lresched
	sti
	hlt
	jmp .Lidle_loop
.Lresched:
	sti
	call schedule_idle
	CURRENT rdi
	bt qword ptr [rdi + TASK_flags], TIF_PATCH_PENDING
	jnc .Lidle_loop
	call klp_update_patch_state
	jmp .Lidle_loop
	pop rbp
	ret
SYM_FUNC_END do_idle

SYM_FUNC_START_NOTRACE cpu_startup_entry
	push rbp
	mov rbp, rsp
	sti
	call do_idle
	pop rbp
	ret
SYM_FUNC_END cpu_startup_entry
