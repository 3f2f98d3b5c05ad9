# test_klp_atomic_replace.S - lib/livepatch/test_klp_atomic_replace.c: meminfo_proc_show, replace=<param>

MODULE_LICENSE "GPL"
MODULE_INFO livepatch Y
MODULE_DESCRIPTION "Livepatch test: atomic replace"
MODULE_PARM replace int "replace (default 0)"

.section .text
SYM_FUNC_START livepatch_meminfo_proc_show
	push rbp
	mov rbp, rsp
	lea rsi, [rip + fmt_str]
	lea rdx, [rip + str_modname]
	lea rcx, [rip + str_patched]
	call seq_printf
	xor eax, eax
	pop rbp
	ret
SYM_FUNC_END livepatch_meminfo_proc_show

SYM_FUNC_START_LOCAL test_klp_atomic_replace_init
	push rbp
	mov rbp, rsp
	mov eax, dword ptr [rip + replace]
	mov byte ptr [rip + patch + KLP_PATCH_replace], al
	lea rdi, [rip + patch]
	call klp_enable_patch
	pop rbp
	ret
SYM_FUNC_END test_klp_atomic_replace_init

SYM_FUNC_START_LOCAL test_klp_atomic_replace_exit
	push rbp
	mov rbp, rsp
	pop rbp
	ret
SYM_FUNC_END test_klp_atomic_replace_exit

MODULE_INIT test_klp_atomic_replace_init
MODULE_EXIT test_klp_atomic_replace_exit

.section .rodata
SYM_DATA_START_LOCAL fmt_str
	.asciz "%s: %s\n"
SYM_DATA_END fmt_str
SYM_DATA_START_LOCAL str_modname
	.asciz "test_klp_atomic_replace"
SYM_DATA_END str_modname
SYM_DATA_START_LOCAL str_patched
	.asciz "this has been live patched"
SYM_DATA_END str_patched
SYM_DATA_START_LOCAL name_meminfo_proc_show
	.asciz "meminfo_proc_show"
SYM_DATA_END name_meminfo_proc_show

.section .data
SYM_DATA_START replace
	.long 0
SYM_DATA_END replace
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
