# mutex.S - kernel/locking/mutex.c for a toy: a sleeping lock owned by a task
#
# struct mutex { atomic_long_t owner; } (DEFINE_MUTEX is `.quad 0`). The fast
# path is the kernel's: cmpxchg owner from 0 to current. A contended
# mutex_lock spins while the owner runs on a CPU (mutex_optimistic_spin) and
# otherwise gives its CPU away (schedule) until the owner releases it; the
# toy has no wait list. Task context only, as in the kernel.

.section .text

# mutex_lock(lock)
SYM_FUNC_START mutex_lock
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
.Lml_retry:
	CURRENT rcx
	xor eax, eax
	lock cmpxchg qword ptr [rbx], rcx
	jz .Lml_locked
	# rax = owner: spin while it is on a CPU, else let it run.
	cmp dword ptr [rax + TASK_on_cpu], 0
	je .Lml_yield
	pause
	HYPERCALL Hypercall_CPU_RELAX
	jmp .Lml_retry
.Lml_yield:
	call schedule
	jmp .Lml_retry
.Lml_locked:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END mutex_lock
EXPORT_SYMBOL mutex_lock

# mutex_trylock(lock) -> 1 if taken
SYM_FUNC_START mutex_trylock
	push rbp
	mov rbp, rsp
	CURRENT rcx
	xor eax, eax
	lock cmpxchg qword ptr [rdi], rcx
	sete al
	movzx eax, al
	pop rbp
	ret
SYM_FUNC_END mutex_trylock
EXPORT_SYMBOL mutex_trylock

# mutex_unlock(lock)
SYM_FUNC_START mutex_unlock
	push rbp
	mov rbp, rsp
	xor eax, eax
	xchg qword ptr [rdi], rax
	pop rbp
	ret
SYM_FUNC_END mutex_unlock
EXPORT_SYMBOL mutex_unlock
