# test_klp_mod_patch.S - lib/livepatch/test_klp_mod_patch.c: patches a function of test_klp_mod_target

MODULE_LICENSE "GPL"
MODULE_INFO livepatch Y
MODULE_DESCRIPTION "Livepatch test: module function patch"

.section .text
SYM_FUNC_START livepatch_mod_target_show
	push rbp
	mov rbp, rsp
	lea rsi, [rip + fmt_str]
	lea rdx, [rip + str_modname]
	lea rcx, [rip + str_patched]
	call seq_printf
	xor eax, eax
	pop rbp
	ret
SYM_FUNC_END livepatch_mod_target_show

SYM_FUNC_START_LOCAL test_klp_mod_patch_init
	push rbp
	mov rbp, rsp
	lea rdi, [rip + patch]
	call klp_enable_patch
	pop rbp
	ret
SYM_FUNC_END test_klp_mod_patch_init

SYM_FUNC_START_LOCAL test_klp_mod_patch_exit
	push rbp
	mov rbp, rsp
	pop rbp
	ret
SYM_FUNC_END test_klp_mod_patch_exit

MODULE_INIT test_klp_mod_patch_init
MODULE_EXIT test_klp_mod_patch_exit

.section .rodata
SYM_DATA_START_LOCAL fmt_str
	.asciz "%s: %s\n"
SYM_DATA_END fmt_str
SYM_DATA_START_LOCAL str_modname
	.asciz "test_klp_mod_patch"
SYM_DATA_END str_modname
SYM_DATA_START_LOCAL str_patched
	.asciz "this has been live patched"
SYM_DATA_END str_patched
SYM_DATA_START_LOCAL name_target
	.asciz "test_klp_mod_target"
SYM_DATA_END name_target
SYM_DATA_START_LOCAL name_show
	.asciz "test_klp_mod_target_show"
SYM_DATA_END name_show

.section .data
SYM_DATA_START_LOCAL funcs
	KLP_FUNC name_show, livepatch_mod_target_show
	KLP_FUNC_END
SYM_DATA_END funcs
SYM_DATA_START_LOCAL objs
	KLP_OBJECT name_target, funcs
	KLP_OBJECT_END
SYM_DATA_END objs
SYM_DATA_START_LOCAL patch
	KLP_PATCH objs
SYM_DATA_END patch
