# livepatch.S - the guest half of kernel/livepatch/patch.c: klp_ftrace_handler
#
# Called by the ftrace trampoline (ftrace_regs_caller) as
#   klp_ftrace_handler(ip = rdi, parent_ip = rsi, fops = rdx, regs = rcx)
# for every call of a patched function. It picks the klp_func to run from the
# klp_ops' func_stack (newest first) and, while that func is in transition,
# by the current task's patch_state, then sets regs->ip to its new_func
# (klp_arch_set_pc); ftrace_regs_caller then returns into the new function.
# The host writes klp_ops/klp_func in guest memory (src/livepatch/patch.ts);
# the ordering partner of the reads below is klp_init_transition() in
# src/livepatch/transition.ts: task patch_state is set before func->transition.

.section .text
SYM_FUNC_START_NOTRACE klp_ftrace_handler
	push rbp
	mov rbp, rsp
	lea r8, [rdx - KLP_OPS_fops]
	lea r10, [r8 + KLP_OPS_func_stack]
	mov r9, qword ptr [r10]
	cmp r9, r10
	je .Lklp_out
	sub r9, KLP_FUNC_stack_node
	cmp byte ptr [r9 + KLP_FUNC_transition], 0
	je .Lklp_chosen
	mov rax, qword ptr gs:[PERCPU_current_task]
	cmp dword ptr [rax + TASK_patch_state], KlpState_UNPATCHED
	jne .Lklp_chosen
	# This task has not switched yet: use the previous layer, or the original.
	mov r9, qword ptr [r9 + KLP_FUNC_stack_node]
	cmp r9, r10
	je .Lklp_out
	sub r9, KLP_FUNC_stack_node
.Lklp_chosen:
	cmp byte ptr [r9 + KLP_FUNC_nop], 0
	jne .Lklp_out
	mov rax, qword ptr [r9 + KLP_FUNC_new_func]
	mov qword ptr [rcx + PT_REGS_ip], rax
.Lklp_out:
	pop rbp
	ret
SYM_FUNC_END klp_ftrace_handler

# klp_update_patch_state(task): switch a task to klp_target_state if a switch
# is pending. The read of klp_target_state after clearing TIF_PATCH_PENDING
# pairs with the host writing klp_target_state before it sets the flag
# (klp_init_transition / klp_start_transition in src/livepatch/transition.ts).
SYM_FUNC_START_NOTRACE klp_update_patch_state
	push rbp
	mov rbp, rsp
	lock btr qword ptr [rdi + TASK_flags], TIF_PATCH_PENDING
	jnc .Lklp_no_switch
	mov eax, dword ptr [rip + klp_target_state]
	mov dword ptr [rdi + TASK_patch_state], eax
.Lklp_no_switch:
	pop rbp
	ret
SYM_FUNC_END klp_update_patch_state

# klp_copy_process(child): a new task inherits its parent's patch state and
# pending switch (kernel/livepatch/transition.c).
SYM_FUNC_START_NOTRACE klp_copy_process
	push rbp
	mov rbp, rsp
	CURRENT rax
	mov ecx, dword ptr [rax + TASK_patch_state]
	mov dword ptr [rdi + TASK_patch_state], ecx
	lock btr qword ptr [rdi + TASK_flags], TIF_PATCH_PENDING
	bt qword ptr [rax + TASK_flags], TIF_PATCH_PENDING
	jnc .Lklp_copy_done
	lock bts qword ptr [rdi + TASK_flags], TIF_PATCH_PENDING
.Lklp_copy_done:
	pop rbp
	ret
SYM_FUNC_END klp_copy_process

# klp_enable_patch(patch): the livepatch core runs on the host (src/livepatch);
# a module's init reaches it through this hypercall and gets 0 or -errno.
SYM_FUNC_START klp_enable_patch
	push rbp
	mov rbp, rsp
	HYPERCALL Hypercall_KLP_ENABLE_PATCH
	pop rbp
	ret
SYM_FUNC_END klp_enable_patch
EXPORT_SYMBOL klp_enable_patch

.section .data
SYM_DATA_START klp_target_state
	.long KlpState_UNDEFINED
SYM_DATA_END klp_target_state

# klp_patches: the patches in use (KLP_PATCH.list), in load order; and
# klp_transition_patch: the patch in transition, or 0. The host writes both
# (src/livepatch/core.ts, transition.ts); klp_get_prev_state reads them.
SYM_DATA_START klp_patches
	.quad klp_patches
	.quad klp_patches
SYM_DATA_END klp_patches
SYM_DATA_START klp_transition_patch
	.quad 0
SYM_DATA_END klp_transition_patch
