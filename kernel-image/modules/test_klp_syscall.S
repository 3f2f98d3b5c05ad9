# test_klp_syscall.S - lib/livepatch/test_klp_syscall.c: __x64_sys_getpid replaced by a counting version

MODULE_LICENSE "GPL"
MODULE_INFO livepatch Y
MODULE_DESCRIPTION "Livepatch test: syscall transition"

.section .text
# lp_sys_getpid: counts its calls, then returns current->pid as the original does.
SYM_FUNC_START lp_sys_getpid
	push rbp
	mov rbp, rsp
	lock inc qword ptr [rip + npids]
	CURRENT rax
	movsxd rax, dword ptr [rax + TASK_pid]
	pop rbp
	ret
SYM_FUNC_END lp_sys_getpid

SYM_FUNC_START_LOCAL test_klp_syscall_init
	push rbp
	mov rbp, rsp
	lea rdi, [rip + patch]
	call klp_enable_patch
	pop rbp
	ret
SYM_FUNC_END test_klp_syscall_init

SYM_FUNC_START_LOCAL test_klp_syscall_exit
	push rbp
	mov rbp, rsp
	pop rbp
	ret
SYM_FUNC_END test_klp_syscall_exit

MODULE_INIT test_klp_syscall_init
MODULE_EXIT test_klp_syscall_exit

.section .rodata
SYM_DATA_START_LOCAL name_getpid
	.asciz "__x64_sys_getpid"
SYM_DATA_END name_getpid

.section .data
SYM_DATA_START npids
	.quad 0
SYM_DATA_END npids
SYM_DATA_START_LOCAL funcs
	KLP_FUNC name_getpid, lp_sys_getpid
	KLP_FUNC_END
SYM_DATA_END funcs
SYM_DATA_START_LOCAL objs
	KLP_OBJECT 0, funcs
	KLP_OBJECT_END
SYM_DATA_END objs
SYM_DATA_START_LOCAL patch
	KLP_PATCH objs
SYM_DATA_END patch
