# livepatch-meminfo-string.S - kpatch's meminfo-string test: meminfo_proc_show with a VMALLOCCHUNK line,
# calling vmlinux's file-local show_val_kb (the first of two, sympos 1) through .klp.sym.vmlinux

MODULE_LICENSE "GPL"
MODULE_INFO livepatch Y
KLP_SYM vmlinux show_val_kb 1
KLP_SYM vmlinux boot_params 0

.section .text
SYM_FUNC_START livepatch_meminfo_proc_show
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	mov rbx, rdi
	lea rsi, [rip + str_memtotal]
	lea rax, [rip + boot_params]
	mov rdx, qword ptr [rax + BOOT_PARAMS_heap_size]
	shr rdx, 12
	call show_val_kb
	mov rdi, rbx
	lea rsi, [rip + str_vmallocchunk]
	mov edx, 4096
	call show_val_kb
	xor eax, eax
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END livepatch_meminfo_proc_show

SYM_FUNC_START_LOCAL livepatch_init
	push rbp
	mov rbp, rsp
	lea rdi, [rip + patch]
	call klp_enable_patch
	pop rbp
	ret
SYM_FUNC_END livepatch_init

SYM_FUNC_START_LOCAL livepatch_exit
	push rbp
	mov rbp, rsp
	pop rbp
	ret
SYM_FUNC_END livepatch_exit

MODULE_INIT livepatch_init
MODULE_EXIT livepatch_exit

.section .rodata
SYM_DATA_START_LOCAL str_memtotal
	.asciz "MemTotal:       "
SYM_DATA_END str_memtotal
SYM_DATA_START_LOCAL str_vmallocchunk
	.asciz "VMALLOCCHUNK:   "
SYM_DATA_END str_vmallocchunk
SYM_DATA_START_LOCAL name_meminfo_proc_show
	.asciz "meminfo_proc_show"
SYM_DATA_END name_meminfo_proc_show

.section .data
SYM_DATA_START_LOCAL funcs
	KLP_FUNC name_meminfo_proc_show, livepatch_meminfo_proc_show
	KLP_FUNC_END
SYM_DATA_END funcs
SYM_DATA_START_LOCAL objs
	KLP_OBJECT 0, funcs
	KLP_OBJECT_END
SYM_DATA_END objs
SYM_DATA_START_LOCAL patch
	KLP_PATCH objs
SYM_DATA_END patch
