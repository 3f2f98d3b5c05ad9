# test_klp_callbacks_demo2.S - lib/livepatch/test_klp_callbacks_demo2.c: a second callbacks demo, vmlinux only
#
# The same four callbacks as test_klp_callbacks_demo, all returning 0, on a
# single vmlinux object; the module parameter replace (0 by default) becomes
# patch.replace, so the selftests can load it as an atomic replace.

MODULE_LICENSE "GPL"
MODULE_INFO livepatch Y
MODULE_DESCRIPTION "Livepatch test: livepatch demo2"
MODULE_PARM replace int "replace (default=0)"

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

SYM_FUNC_START_LOCAL pre_patch_callback
	push rbp
	mov rbp, rsp
	mov rsi, rdi
	lea rdi, [rip + str_pre_patch]
	call callback_info
	xor eax, eax
	pop rbp
	ret
SYM_FUNC_END pre_patch_callback

SYM_FUNC_START_LOCAL post_patch_callback
	push rbp
	mov rbp, rsp
	mov rsi, rdi
	lea rdi, [rip + str_post_patch]
	call callback_info
	pop rbp
	ret
SYM_FUNC_END post_patch_callback

SYM_FUNC_START_LOCAL pre_unpatch_callback
	push rbp
	mov rbp, rsp
	mov rsi, rdi
	lea rdi, [rip + str_pre_unpatch]
	call callback_info
	pop rbp
	ret
SYM_FUNC_END pre_unpatch_callback

SYM_FUNC_START_LOCAL post_unpatch_callback
	push rbp
	mov rbp, rsp
	mov rsi, rdi
	lea rdi, [rip + str_post_unpatch]
	call callback_info
	pop rbp
	ret
SYM_FUNC_END post_unpatch_callback

SYM_FUNC_START_LOCAL test_klp_callbacks_demo2_init
	push rbp
	mov rbp, rsp
	mov eax, dword ptr [rip + replace]
	mov byte ptr [rip + patch + KLP_PATCH_replace], al
	lea rdi, [rip + patch]
	call klp_enable_patch
	pop rbp
	ret
SYM_FUNC_END test_klp_callbacks_demo2_init

SYM_FUNC_START_LOCAL test_klp_callbacks_demo2_exit
	push rbp
	mov rbp, rsp
	pop rbp
	ret
SYM_FUNC_END test_klp_callbacks_demo2_exit

MODULE_INIT test_klp_callbacks_demo2_init
MODULE_EXIT test_klp_callbacks_demo2_exit

.section .rodata
SYM_DATA_START_LOCAL fmt_mod
	.asciz "\0016test_klp_callbacks_demo2: %s: %s -> %s"
SYM_DATA_END fmt_mod
SYM_DATA_START_LOCAL fmt_vmlinux
	.asciz "\0016test_klp_callbacks_demo2: %s: vmlinux"
SYM_DATA_END fmt_vmlinux
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
SYM_DATA_START replace
	.long 0
SYM_DATA_END replace
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
SYM_DATA_START_LOCAL patch
	KLP_PATCH objs
SYM_DATA_END patch
