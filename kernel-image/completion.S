# completion.S - kernel/sched/completion.c for a toy: complete(), wait_for_completion(), and wait_tick()
#
# struct completion { u32 done; } - guest-only, 4 bytes. Waiters poll the count
# a tick at a time (wait_tick): a task sleeps the tick (schedule_timeout), while
# a host call (a module's init or exit, which insmod/rmmod run on the host's
# behalf) makes the HOST_CALL_WAIT hypercall and the machine runs the tick, as
# the task inside init_module(2) would sleep while the others run.

.section .text

# wait_tick(): let one tick of guest time pass for the caller.
SYM_FUNC_START wait_tick
	push rbp
	mov rbp, rsp
	HYPERCALL Hypercall_HOST_CALL_WAIT
	test rax, rax
	jnz .Lwait_tick_done
	mov edi, 1
	call schedule_timeout_interruptible
.Lwait_tick_done:
	pop rbp
	ret
SYM_FUNC_END wait_tick
EXPORT_SYMBOL wait_tick

# complete(x): one waiter may go on.
SYM_FUNC_START complete
	push rbp
	mov rbp, rsp
	lock inc dword ptr [rdi]
	pop rbp
	ret
SYM_FUNC_END complete
EXPORT_SYMBOL complete

# wait_for_completion(x): until a complete(), then consume it.
SYM_FUNC_START wait_for_completion
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
.Lwfc_check:
	mov eax, dword ptr [rbx]
	test eax, eax
	jz .Lwfc_wait
	lea ecx, [rax - 1]
	lock cmpxchg dword ptr [rbx], ecx
	jnz .Lwfc_check
	pop r12
	pop rbx
	pop rbp
	ret
.Lwfc_wait:
	call wait_tick
	jmp .Lwfc_check
SYM_FUNC_END wait_for_completion
EXPORT_SYMBOL wait_for_completion
