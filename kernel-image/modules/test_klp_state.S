# test_klp_state.S - lib/livepatch/test_klp_state.c: a cumulative patch that changes console_loglevel, declared as klp_state 1 version 1
#
# One vmlinux object with no functions and the four callbacks. The state's
# data (klp_state.data) holds a kzalloc'ed copy of the console_loglevel the
# patch overrode: pre_patch allocates it, post_patch saves console_loglevel
# there and raises it to MOTORMOUTH, pre_unpatch restores it, post_unpatch
# frees it. Version 1 cannot take the state over from another patch
# (test_klp_state2 can), so it is incompatible with a version 2 in use.

MODULE_LICENSE "GPL"
MODULE_INFO livepatch Y
MODULE_DESCRIPTION "Livepatch test: system state modification"

CONSOLE_LOGLEVEL_STATE = 1
CONSOLE_LOGLEVEL_STATE_VERSION = 1
CONSOLE_LOGLEVEL_MOTORMOUTH = 15

.section .text
# callback_info(callback name, obj)
SYM_FUNC_START_LOCAL callback_info
	push rbp
	mov rbp, rsp
	mov rax, qword ptr [rsi + KLP_OBJECT_mod]
	test rax, rax
	jz .Lvmlinux
	mov rsi, rdi
	lea rdx, [rax + MODULE_name]
	mov ecx, dword ptr [rax + MODULE_state]
	lea r8, [rip + module_state]
	mov rcx, qword ptr [r8 + rcx * 8]
	lea rdi, [rip + fmt_mod]
	call _printk
	pop rbp
	ret
.Lvmlinux:
	mov rsi, rdi
	lea rdi, [rip + fmt_vmlinux]
	call _printk
	pop rbp
	ret
SYM_FUNC_END callback_info

# loglevel_state() -> klp_get_state(&patch, CONSOLE_LOGLEVEL_STATE)
SYM_FUNC_START_LOCAL loglevel_state
	push rbp
	mov rbp, rsp
	lea rdi, [rip + patch]
	mov esi, CONSOLE_LOGLEVEL_STATE
	call klp_get_state
	pop rbp
	ret
SYM_FUNC_END loglevel_state

# allocate_loglevel_state() -> 0, -EINVAL without the state, -ENOMEM
SYM_FUNC_START_LOCAL allocate_loglevel_state
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	call loglevel_state
	mov rbx, rax
	mov rax, -22
	test rbx, rbx
	jz .Lalloc_out
	mov edi, 4
	call kzalloc
	mov qword ptr [rbx + KLP_STATE_data], rax
	test rax, rax
	mov rax, -12
	jz .Lalloc_out
	lea rdi, [rip + fmt_allocate]
	lea rsi, [rip + name_allocate]
	call _printk
	xor eax, eax
.Lalloc_out:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END allocate_loglevel_state

SYM_FUNC_START_LOCAL fix_console_loglevel
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	call loglevel_state
	test rax, rax
	jz .Lfix_out
	mov rbx, rax
	lea rdi, [rip + fmt_fix]
	lea rsi, [rip + name_fix]
	call _printk
	mov rcx, qword ptr [rbx + KLP_STATE_data]
	mov eax, dword ptr [rip + console_loglevel]
	mov dword ptr [rcx], eax
	mov dword ptr [rip + console_loglevel], CONSOLE_LOGLEVEL_MOTORMOUTH
.Lfix_out:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END fix_console_loglevel

SYM_FUNC_START_LOCAL restore_console_loglevel
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	call loglevel_state
	test rax, rax
	jz .Lrestore_out
	mov rbx, rax
	lea rdi, [rip + fmt_restore]
	lea rsi, [rip + name_restore]
	call _printk
	mov rcx, qword ptr [rbx + KLP_STATE_data]
	mov eax, dword ptr [rcx]
	mov dword ptr [rip + console_loglevel], eax
.Lrestore_out:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END restore_console_loglevel

SYM_FUNC_START_LOCAL free_loglevel_state
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	call loglevel_state
	test rax, rax
	jz .Lfree_out
	mov rbx, rax
	lea rdi, [rip + fmt_free]
	lea rsi, [rip + name_free]
	call _printk
	mov rdi, qword ptr [rbx + KLP_STATE_data]
	call kfree
.Lfree_out:
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END free_loglevel_state

SYM_FUNC_START_LOCAL pre_patch_callback
	push rbp
	mov rbp, rsp
	mov rsi, rdi
	lea rdi, [rip + str_pre_patch]
	call callback_info
	call allocate_loglevel_state
	pop rbp
	ret
SYM_FUNC_END pre_patch_callback

SYM_FUNC_START_LOCAL post_patch_callback
	push rbp
	mov rbp, rsp
	mov rsi, rdi
	lea rdi, [rip + str_post_patch]
	call callback_info
	call fix_console_loglevel
	pop rbp
	ret
SYM_FUNC_END post_patch_callback

SYM_FUNC_START_LOCAL pre_unpatch_callback
	push rbp
	mov rbp, rsp
	mov rsi, rdi
	lea rdi, [rip + str_pre_unpatch]
	call callback_info
	call restore_console_loglevel
	pop rbp
	ret
SYM_FUNC_END pre_unpatch_callback

SYM_FUNC_START_LOCAL post_unpatch_callback
	push rbp
	mov rbp, rsp
	mov rsi, rdi
	lea rdi, [rip + str_post_unpatch]
	call callback_info
	call free_loglevel_state
	pop rbp
	ret
SYM_FUNC_END post_unpatch_callback

SYM_FUNC_START_LOCAL test_klp_callbacks_demo_init
	push rbp
	mov rbp, rsp
	lea rdi, [rip + patch]
	call klp_enable_patch
	pop rbp
	ret
SYM_FUNC_END test_klp_callbacks_demo_init

SYM_FUNC_START_LOCAL test_klp_callbacks_demo_exit
	push rbp
	mov rbp, rsp
	pop rbp
	ret
SYM_FUNC_END test_klp_callbacks_demo_exit

MODULE_INIT test_klp_callbacks_demo_init
MODULE_EXIT test_klp_callbacks_demo_exit

.section .rodata
SYM_DATA_START_LOCAL fmt_mod
	.asciz "\0016test_klp_state: %s: %s -> %s"
SYM_DATA_END fmt_mod
SYM_DATA_START_LOCAL fmt_vmlinux
	.asciz "\0016test_klp_state: %s: vmlinux"
SYM_DATA_END fmt_vmlinux
SYM_DATA_START_LOCAL fmt_allocate
	.asciz "\0016test_klp_state: %s: allocating space to store console_loglevel"
SYM_DATA_END fmt_allocate
SYM_DATA_START_LOCAL fmt_fix
	.asciz "\0016test_klp_state: %s: fixing console_loglevel"
SYM_DATA_END fmt_fix
SYM_DATA_START_LOCAL fmt_restore
	.asciz "\0016test_klp_state: %s: restoring console_loglevel"
SYM_DATA_END fmt_restore
SYM_DATA_START_LOCAL fmt_free
	.asciz "\0016test_klp_state: %s: freeing space for the stored console_loglevel"
SYM_DATA_END fmt_free
SYM_DATA_START_LOCAL name_allocate
	.asciz "allocate_loglevel_state"
SYM_DATA_END name_allocate
SYM_DATA_START_LOCAL name_fix
	.asciz "fix_console_loglevel"
SYM_DATA_END name_fix
SYM_DATA_START_LOCAL name_restore
	.asciz "restore_console_loglevel"
SYM_DATA_END name_restore
SYM_DATA_START_LOCAL name_free
	.asciz "free_loglevel_state"
SYM_DATA_END name_free
SYM_DATA_START_LOCAL str_pre_patch
	.asciz "pre_patch_callback"
SYM_DATA_END str_pre_patch
SYM_DATA_START_LOCAL str_post_patch
	.asciz "post_patch_callback"
SYM_DATA_END str_post_patch
SYM_DATA_START_LOCAL str_pre_unpatch
	.asciz "pre_unpatch_callback"
SYM_DATA_END str_pre_unpatch
SYM_DATA_START_LOCAL str_post_unpatch
	.asciz "post_unpatch_callback"
SYM_DATA_END str_post_unpatch
SYM_DATA_START_LOCAL state_live
	.asciz "[MODULE_STATE_LIVE] Normal state"
SYM_DATA_END state_live
SYM_DATA_START_LOCAL state_coming
	.asciz "[MODULE_STATE_COMING] Full formed, running module_init"
SYM_DATA_END state_coming
SYM_DATA_START_LOCAL state_going
	.asciz "[MODULE_STATE_GOING] Going away"
SYM_DATA_END state_going
SYM_DATA_START_LOCAL state_unformed
	.asciz "[MODULE_STATE_UNFORMED] Still setting it up"
SYM_DATA_END state_unformed

.section .data
SYM_DATA_START_LOCAL module_state
	.quad state_live, state_coming, state_going, state_unformed
SYM_DATA_END module_state
SYM_DATA_START_LOCAL no_funcs
	KLP_FUNC_END
SYM_DATA_END no_funcs
SYM_DATA_START_LOCAL objs
	KLP_OBJECT_CB 0, no_funcs, pre_patch_callback, post_patch_callback, pre_unpatch_callback, post_unpatch_callback
	KLP_OBJECT_END
SYM_DATA_END objs
SYM_DATA_START_LOCAL states
	KLP_STATE CONSOLE_LOGLEVEL_STATE, CONSOLE_LOGLEVEL_STATE_VERSION
	KLP_STATE_END
SYM_DATA_END states
SYM_DATA_START_LOCAL patch
	KLP_PATCH objs, 1, states
SYM_DATA_END patch
