# workqueue.S - kernel/workqueue.c for a toy: one system workqueue served by "kworker/0:1"
#
# struct work_struct { list_head entry; u64 func; } - guest-only, 24 bytes.
# queue_work adds under wq_lock and wakes the worker; the worker sleeps in
# TASK_INTERRUPTIBLE only after seeing the list empty under the same lock
# (partner of the wake-up in queue_work), so no work is lost. current_work is
# the work being run (set and cleared under wq_lock), for flush_work.

WORK_entry = 0
WORK_func = 16

.section .text

SYM_FUNC_START_NOTRACE workqueue_init
	push rbp
	mov rbp, rsp
	lea rdi, [rip + worker_thread]
	xor esi, esi
	lea rdx, [rip + comm_kworker]
	call kthread_run
	mov qword ptr [rip + system_worker], rax
	pop rbp
	ret
SYM_FUNC_END workqueue_init

# queue_work(work) -> 1
SYM_FUNC_START queue_work
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
	lea rdi, [rip + wq_lock]
	call raw_spin_lock_irqsave
	mov r12, rax
	lea rsi, [rip + wq_list]
	LIST_ADD_TAIL rbx, rsi, rax
	lea rdi, [rip + wq_lock]
	mov rsi, r12
	call raw_spin_unlock_irqrestore
	mov rdi, qword ptr [rip + system_worker]
	call wake_up_process
	mov eax, 1
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END queue_work
EXPORT_SYMBOL queue_work

# process_one_work(work): call work->func(work)
SYM_FUNC_START_LOCAL process_one_work
	push rbp
	mov rbp, rsp
	call qword ptr [rdi + WORK_func]
	inc qword ptr [rip + works_done]
	pop rbp
	ret
SYM_FUNC_END process_one_work

# flush_work(work) -> 1 if it waited: until the work is neither queued nor running.
SYM_FUNC_START flush_work
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	mov rbx, rdi
	xor r13d, r13d
.Lflush_check:
	lea rdi, [rip + wq_lock]
	call raw_spin_lock_irqsave
	mov r12, rax
	# Queued: its entry is on wq_list (LIST_DEL_INIT leaves it pointing at itself).
	cmp qword ptr [rbx + WORK_entry], rbx
	setne al
	cmp qword ptr [rip + current_work], rbx
	sete cl
	or al, cl
	movzx eax, al
	push rax
	lea rdi, [rip + wq_lock]
	mov rsi, r12
	call raw_spin_unlock_irqrestore
	pop rax
	test eax, eax
	jz .Lflush_done
	mov r13d, 1
	call wait_tick
	jmp .Lflush_check
.Lflush_done:
	mov eax, r13d
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END flush_work
EXPORT_SYMBOL flush_work

SYM_FUNC_START worker_thread
	push rbp
	mov rbp, rsp
	push rbx
	push r12
.Lworker_loop:
	lea rdi, [rip + wq_lock]
	call raw_spin_lock_irqsave
	mov r12, rax
	lea rsi, [rip + wq_list]
	mov rbx, qword ptr [rsi]
	cmp rbx, rsi
	je .Lworker_sleep
	LIST_DEL_INIT rbx, rax, rcx
	mov qword ptr [rip + current_work], rbx
	lea rdi, [rip + wq_lock]
	mov rsi, r12
	call raw_spin_unlock_irqrestore
	mov rdi, rbx
	call process_one_work
	lea rdi, [rip + wq_lock]
	call raw_spin_lock_irqsave
	mov qword ptr [rip + current_work], 0
	lea rdi, [rip + wq_lock]
	mov rsi, rax
	call raw_spin_unlock_irqrestore
	call cond_resched
	jmp .Lworker_loop
.Lworker_sleep:
	CURRENT rax
	mov dword ptr [rax + TASK___state], TaskState_INTERRUPTIBLE
	lea rdi, [rip + wq_lock]
	mov rsi, r12
	call raw_spin_unlock_irqrestore
	call schedule
	jmp .Lworker_loop
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END worker_thread

.section .rodata
SYM_DATA_START_LOCAL comm_kworker
	.asciz "kworker/0:1"
SYM_DATA_END comm_kworker

.section .data
SYM_DATA_START_LOCAL wq_list
	.quad wq_list, wq_list
SYM_DATA_END wq_list
SYM_DATA_START_LOCAL wq_lock
	.quad 0
SYM_DATA_END wq_lock
SYM_DATA_START system_worker
	.quad 0
SYM_DATA_END system_worker
SYM_DATA_START_LOCAL current_work
	.quad 0
SYM_DATA_END current_work
SYM_DATA_START works_done
	.quad 0
SYM_DATA_END works_done
