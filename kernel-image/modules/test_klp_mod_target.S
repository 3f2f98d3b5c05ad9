# test_klp_mod_target.S - lib/livepatch/test_klp_mod_target.c: a module with a /proc file a livepatch targets

MODULE_LICENSE "GPL"
MODULE_DESCRIPTION "Livepatch test: target module"

.section .text
SYM_FUNC_START test_klp_mod_target_show
	push rbp
	mov rbp, rsp
	lea rsi, [rip + fmt_str]
	lea rdx, [rip + str_modname]
	lea rcx, [rip + str_original]
	call seq_printf
	xor eax, eax
	pop rbp
	ret
SYM_FUNC_END test_klp_mod_target_show

SYM_FUNC_START_LOCAL test_klp_mod_target_init
	push rbp
	mov rbp, rsp
	lea rdi, [rip + msg_init]
	call _printk
	lea rdi, [rip + proc_path]
	lea rsi, [rip + test_klp_mod_target_show]
	call proc_create_single
	pop rbp
	ret
SYM_FUNC_END test_klp_mod_target_init

SYM_FUNC_START_LOCAL test_klp_mod_target_exit
	push rbp
	mov rbp, rsp
	lea rdi, [rip + proc_path]
	call remove_proc_entry
	lea rdi, [rip + msg_exit]
	call _printk
	pop rbp
	ret
SYM_FUNC_END test_klp_mod_target_exit

MODULE_INIT test_klp_mod_target_init
MODULE_EXIT test_klp_mod_target_exit

.section .rodata
SYM_DATA_START_LOCAL fmt_str
	.asciz "%s: %s\n"
SYM_DATA_END fmt_str
SYM_DATA_START_LOCAL str_modname
	.asciz "test_klp_mod_target"
SYM_DATA_END str_modname
SYM_DATA_START_LOCAL str_original
	.asciz "original output"
SYM_DATA_END str_original
SYM_DATA_START_LOCAL proc_path
	.asciz "/proc/test_klp_mod_target"
SYM_DATA_END proc_path
SYM_DATA_START_LOCAL msg_init
	.asciz "\0016test_klp_mod_target: test_klp_mod_target_init"
SYM_DATA_END msg_init
SYM_DATA_START_LOCAL msg_exit
	.asciz "\0016test_klp_mod_target: test_klp_mod_target_exit"
SYM_DATA_END msg_exit
