# test_klp_callbacks_demo.S - lib/livepatch/test_klp_callbacks_demo.c: every callback says who it runs for
#
# pre_patch_callback returns the module parameter pre_patch_ret (0 by default),
# so the selftests can make it fail. callback_info prints the object's module
# and its state (obj->mod, the guest struct module: MODULE in layout.ts).
# Objects: vmlinux and test_klp_callbacks_mod (callbacks only), and
# test_klp_callbacks_busy, whose busymod_work_func becomes patched_work_func.

MODULE_LICENSE "GPL"
MODULE_INFO livepatch Y
MODULE_DESCRIPTION "Livepatch test: livepatch demo"
MODULE_PARM pre_patch_ret int "pre_patch_ret (default=0)"

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
	movsxd rax, dword ptr [rip + pre_patch_ret]
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

SYM_FUNC_START_LOCAL patched_work_func
	push rbp
	mov rbp, rsp
	lea rdi, [rip + fmt_patched]
	lea rsi, [rip + name_patched_work_func]
	call _printk
	pop rbp
	ret
SYM_FUNC_END patched_work_func

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
	.asciz "\0016test_klp_callbacks_demo: %s: %s -> %s"
SYM_DATA_END fmt_mod
SYM_DATA_START_LOCAL fmt_vmlinux
	.asciz "\0016test_klp_callbacks_demo: %s: vmlinux"
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
SYM_DATA_START_LOCAL name_mod
	.asciz "test_klp_callbacks_mod"
SYM_DATA_END name_mod
SYM_DATA_START_LOCAL name_busy
	.asciz "test_klp_callbacks_busy"
SYM_DATA_END name_busy
SYM_DATA_START_LOCAL name_busymod_work_func
	.asciz "busymod_work_func"
SYM_DATA_END name_busymod_work_func
SYM_DATA_START_LOCAL name_patched_work_func
	.asciz "patched_work_func"
SYM_DATA_END name_patched_work_func
SYM_DATA_START_LOCAL fmt_patched
	.asciz "\0016test_klp_callbacks_demo: %s"
SYM_DATA_END fmt_patched

.section .data
SYM_DATA_START pre_patch_ret
	.long 0
SYM_DATA_END pre_patch_ret
SYM_DATA_START_LOCAL module_state
	.quad state_live, state_coming, state_going, state_unformed
SYM_DATA_END module_state
SYM_DATA_START_LOCAL no_funcs
	KLP_FUNC_END
SYM_DATA_END no_funcs
SYM_DATA_START_LOCAL busymod_funcs
	KLP_FUNC name_busymod_work_func, patched_work_func
	KLP_FUNC_END
SYM_DATA_END busymod_funcs
SYM_DATA_START_LOCAL objs
	KLP_OBJECT_CB 0, no_funcs, pre_patch_callback, post_patch_callback, pre_unpatch_callback, post_unpatch_callback
	KLP_OBJECT_CB name_mod, no_funcs, pre_patch_callback, post_patch_callback, pre_unpatch_callback, post_unpatch_callback
	KLP_OBJECT_CB name_busy, busymod_funcs, pre_patch_callback, post_patch_callback, pre_unpatch_callback, post_unpatch_callback
	KLP_OBJECT_END
SYM_DATA_END objs
SYM_DATA_START_LOCAL patch
	KLP_PATCH objs
SYM_DATA_END patch
