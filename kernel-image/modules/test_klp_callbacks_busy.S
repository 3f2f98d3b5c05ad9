# test_klp_callbacks_busy.S - lib/livepatch/test_klp_callbacks_busy.c: a target module whose work item can hold a transition
#
# init queues busymod_work_func on the system workqueue and waits (a
# completion) until it has printed its enter line; unless block_transition is
# set it then flushes the work. With block_transition=Y the worker keeps
# sleeping inside busymod_work_func (msleep(20) a time) until exit clears the
# flag and flushes the work, so a livepatch of busymod_work_func cannot switch
# the kworker in the meantime.

MODULE_LICENSE "GPL"
MODULE_DESCRIPTION "Livepatch test: busy target module"
MODULE_PARM block_transition bool "block_transition (default=false)"

.section .text
SYM_FUNC_START_LOCAL busymod_work_func
	push rbp
	mov rbp, rsp
	lea rdi, [rip + fmt_enter]
	lea rsi, [rip + name_work_func]
	call _printk
	lea rdi, [rip + work_started]
	call complete
.Lbusy:
	cmp byte ptr [rip + block_transition], 0
	je .Lbusy_done
	mov edi, 20
	call msleep_interruptible
	jmp .Lbusy
.Lbusy_done:
	lea rdi, [rip + fmt_exit]
	lea rsi, [rip + name_work_func]
	call _printk
	pop rbp
	ret
SYM_FUNC_END busymod_work_func

SYM_FUNC_START_LOCAL test_klp_callbacks_busy_init
	push rbp
	mov rbp, rsp
	lea rdi, [rip + fmt_func]
	lea rsi, [rip + name_init]
	call _printk
	lea rdi, [rip + work]
	call queue_work
	# Hold init until the work function's entry message has printed.
	lea rdi, [rip + work_started]
	call wait_for_completion
	cmp byte ptr [rip + block_transition], 0
	jne .Linit_done
	lea rdi, [rip + work]
	call flush_work
.Linit_done:
	xor eax, eax
	pop rbp
	ret
SYM_FUNC_END test_klp_callbacks_busy_init

SYM_FUNC_START_LOCAL test_klp_callbacks_busy_exit
	push rbp
	mov rbp, rsp
	mov byte ptr [rip + block_transition], 0
	lea rdi, [rip + work]
	call flush_work
	lea rdi, [rip + fmt_func]
	lea rsi, [rip + name_exit]
	call _printk
	pop rbp
	ret
SYM_FUNC_END test_klp_callbacks_busy_exit

MODULE_INIT test_klp_callbacks_busy_init
MODULE_EXIT test_klp_callbacks_busy_exit

.section .rodata
SYM_DATA_START_LOCAL fmt_func
	.asciz "\0016test_klp_callbacks_busy: %s"
SYM_DATA_END fmt_func
SYM_DATA_START_LOCAL fmt_enter
	.asciz "\0016test_klp_callbacks_busy: %s enter"
SYM_DATA_END fmt_enter
SYM_DATA_START_LOCAL fmt_exit
	.asciz "\0016test_klp_callbacks_busy: %s exit"
SYM_DATA_END fmt_exit
SYM_DATA_START_LOCAL name_work_func
	.asciz "busymod_work_func"
SYM_DATA_END name_work_func
SYM_DATA_START_LOCAL name_init
	.asciz "test_klp_callbacks_busy_init"
SYM_DATA_END name_init
SYM_DATA_START_LOCAL name_exit
	.asciz "test_klp_callbacks_busy_exit"
SYM_DATA_END name_exit

.section .data
SYM_DATA_START block_transition
	.byte 0
SYM_DATA_END block_transition
.balign 8
# struct work_struct { list_head entry; func } (workqueue.S), DECLARE_WORK: entry points at itself.
SYM_DATA_START_LOCAL work
	.quad work, work, busymod_work_func
SYM_DATA_END work
# DECLARE_COMPLETION: { done = 0 } (completion.S).
SYM_DATA_START_LOCAL work_started
	.long 0
SYM_DATA_END work_started
