# livepatch-sample.S - samples/livepatch/livepatch-sample.c: cmdline_proc_show prints a fixed line

MODULE_LICENSE "GPL"
MODULE_INFO livepatch Y

.section .text
SYM_FUNC_START livepatch_cmdline_proc_show
	push rbp
	mov rbp, rsp
	lea rsi, [rip + fmt_str]
	lea rdx, [rip + str_patched]
	call seq_printf
	xor eax, eax
	pop rbp
	ret
SYM_FUNC_END livepatch_cmdline_proc_show

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
SYM_DATA_START_LOCAL fmt_str
	.asciz "%s\n"
SYM_DATA_END fmt_str
SYM_DATA_START_LOCAL str_patched
	.asciz "this has been live patched"
SYM_DATA_END str_patched
SYM_DATA_START_LOCAL name_cmdline_proc_show
	.asciz "cmdline_proc_show"
SYM_DATA_END name_cmdline_proc_show

.section .data
SYM_DATA_START_LOCAL funcs
	KLP_FUNC name_cmdline_proc_show, livepatch_cmdline_proc_show
	KLP_FUNC_END
SYM_DATA_END funcs
SYM_DATA_START_LOCAL objs
	KLP_OBJECT 0, funcs
	KLP_OBJECT_END
SYM_DATA_END objs
SYM_DATA_START_LOCAL patch
	KLP_PATCH objs
SYM_DATA_END patch
