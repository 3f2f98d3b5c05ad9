# test_klp_syscall.S - lib/livepatch/test_klp_syscall.c: __x64_sys_getpid patched; each listed pid clears itself once patched
#
# klp_pids (module_param_array, perm 0: no sysfs file) lists the pids the
# test waits for; npids_pending counts how many of them have not called the
# new getpid yet, shown in /sys/kernel/test_klp_syscall/npids. A task only
# runs lp_sys_getpid once the transition switched it, so npids reaching 0
# means every listed process was livepatched.

MODULE_LICENSE "GPL"
MODULE_INFO livepatch Y
MODULE_AUTHOR "Marcos Paulo de Souza <mpdesouza@suse.com>"
MODULE_DESCRIPTION "Livepatch test: syscall transition"
MODULE_PARM_ARRAY klp_pids int npids_pending 0 "Array of pids to be transitioned to livepatched state."

.section .text
# npids_show(kobj, attr, buf): sprintf(buf, "%u\n", npids_pending)
SYM_FUNC_START_LOCAL npids_show
	push rbp
	mov rbp, rsp
	mov rdi, rdx
	lea rsi, [rip + fmt_npids]
	mov edx, dword ptr [rip + npids_pending]
	call sprintf
	pop rbp
	ret
SYM_FUNC_END npids_show

# lp_sys_getpid: clear current's pid from klp_pids once, then task_tgid_vnr(current).
SYM_FUNC_START_LOCAL lp_sys_getpid
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	lea rdi, [rip + kpid_mutex]
	call mutex_lock
	cmp dword ptr [rip + npids_pending], 0
	je .Lunlock
	CURRENT rax
	mov ecx, dword ptr [rax + TASK_pid]
	lea rdx, [rip + klp_pids]
	xor ebx, ebx
.Lscan:
	cmp ebx, dword ptr [rip + npids]
	jae .Lunlock
	cmp dword ptr [rdx + rbx * 4], ecx
	je .Lfound
	inc ebx
	jmp .Lscan
.Lfound:
	mov dword ptr [rdx + rbx * 4], 0
	dec dword ptr [rip + npids_pending]
.Lunlock:
	lea rdi, [rip + kpid_mutex]
	call mutex_unlock
	CURRENT rax
	movsxd rax, dword ptr [rax + TASK_pid]
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END lp_sys_getpid

SYM_FUNC_START_LOCAL livepatch_init
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	lea rdi, [rip + name_module]
	mov rsi, qword ptr [rip + kernel_kobj]
	call kobject_create_and_add
	mov qword ptr [rip + klp_kobj], rax
	test rax, rax
	jz .Lenomem
	mov rdi, rax
	lea rsi, [rip + klp_attr]
	call sysfs_create_file
	test eax, eax
	jz .Lcreated
	mov ebx, eax
	mov rdi, qword ptr [rip + klp_kobj]
	call kobject_put
	mov eax, ebx
	jmp .Lout
.Lcreated:
	# Save the number of pids to transition before npids_pending goes down.
	mov eax, dword ptr [rip + npids_pending]
	mov dword ptr [rip + npids], eax
	lea rdi, [rip + patch]
	call klp_enable_patch
	jmp .Lout
.Lenomem:
	mov eax, -12
.Lout:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END livepatch_init

SYM_FUNC_START_LOCAL livepatch_exit
	push rbp
	mov rbp, rsp
	mov rdi, qword ptr [rip + klp_kobj]
	call kobject_put
	pop rbp
	ret
SYM_FUNC_END livepatch_exit

MODULE_INIT livepatch_init
MODULE_EXIT livepatch_exit

.section .rodata
SYM_DATA_START_LOCAL name_getpid
	.asciz "__x64_sys_getpid"
SYM_DATA_END name_getpid
SYM_DATA_START_LOCAL name_module
	.asciz "test_klp_syscall"
SYM_DATA_END name_module
SYM_DATA_START_LOCAL name_npids
	.asciz "npids"
SYM_DATA_END name_npids
SYM_DATA_START_LOCAL fmt_npids
	.asciz "%u\n"
SYM_DATA_END fmt_npids

.section .data
.balign 8
SYM_DATA_START_LOCAL kpid_mutex
	.quad 0
SYM_DATA_END kpid_mutex
SYM_DATA_START_LOCAL klp_kobj
	.quad 0
SYM_DATA_END klp_kobj
# __ATTR_RO(npids): mode 0444, show only.
SYM_DATA_START_LOCAL klp_attr
	.quad name_npids
	.short 0444
	.zero 6
	.quad npids_show
	.quad 0
SYM_DATA_END klp_attr
SYM_DATA_START_LOCAL npids
	.long 0
SYM_DATA_END npids
SYM_DATA_START_LOCAL npids_pending
	.long 0
SYM_DATA_END npids_pending
SYM_DATA_START_LOCAL klp_pids
	.zero 4 * NR_CPUS
SYM_DATA_END klp_pids
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
