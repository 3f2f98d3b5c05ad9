# test_klp_callbacks_mod.S - lib/livepatch/test_klp_callbacks_mod.c: a target module that only says hello and goodbye

MODULE_LICENSE "GPL"
MODULE_DESCRIPTION "Livepatch test: target module"

.section .text
SYM_FUNC_START_LOCAL test_klp_callbacks_mod_init
	push rbp
	mov rbp, rsp
	lea rdi, [rip + msg_init]
	call _printk
	xor eax, eax
	pop rbp
	ret
SYM_FUNC_END test_klp_callbacks_mod_init

SYM_FUNC_START_LOCAL test_klp_callbacks_mod_exit
	push rbp
	mov rbp, rsp
	lea rdi, [rip + msg_exit]
	call _printk
	pop rbp
	ret
SYM_FUNC_END test_klp_callbacks_mod_exit

MODULE_INIT test_klp_callbacks_mod_init
MODULE_EXIT test_klp_callbacks_mod_exit

.section .rodata
SYM_DATA_START_LOCAL msg_init
	.asciz "\0016test_klp_callbacks_mod: test_klp_callbacks_mod_init"
SYM_DATA_END msg_init
SYM_DATA_START_LOCAL msg_exit
	.asciz "\0016test_klp_callbacks_mod: test_klp_callbacks_mod_exit"
SYM_DATA_END msg_exit
