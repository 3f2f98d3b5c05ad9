# livepatch_state.S - the guest half of kernel/livepatch/state.c: klp_get_state, klp_get_prev_state
#
# A livepatch declares the system states it modifies as a klp_state array
# (KLP_STATE in src/abi/layout.ts, ended by id 0) hung on klp_patch.states.
# Its callbacks run as guest code and find those states here: their own with
# klp_get_state(), the one of the patches being replaced with
# klp_get_prev_state(). The host keeps klp_patches (the patches in use, in
# load order, through KLP_PATCH.list) and klp_transition_patch in livepatch.S
# up to date (src/livepatch/core.ts, transition.ts); it changes them only
# between slices or while the caller is inside a host call, so the walks
# below never see a half-updated list. klp_is_patch_compatible() runs on the
# host (src/livepatch/state.ts).

.section .text
# klp_get_state(patch, id) -> the patch's struct klp_state with that id, or NULL
SYM_FUNC_START klp_get_state
	push rbp
	mov rbp, rsp
	mov rax, qword ptr [rdi + KLP_PATCH_states]
	test rax, rax
	jz .Lget_none
.Lget_loop:
	mov rcx, qword ptr [rax + KLP_STATE_id]
	test rcx, rcx
	jz .Lget_none
	cmp rcx, rsi
	je .Lget_out
	add rax, KLP_STATE_SIZE
	jmp .Lget_loop
.Lget_none:
	xor eax, eax
.Lget_out:
	pop rbp
	ret
SYM_FUNC_END klp_get_state
EXPORT_SYMBOL klp_get_state

# klp_get_prev_state(id) -> the state with that id of the newest patch in use
# before klp_transition_patch, or NULL. Only meaningful during a transition
# (from the callbacks); outside one there is no previous patch: NULL.
SYM_FUNC_START klp_get_prev_state
	push rbp
	mov rbp, rsp
	push rbx
	push r12
	push r13
	push r14
	mov r12, rdi
	xor r14d, r14d
	mov r13, qword ptr [rip + klp_transition_patch]
	test r13, r13
	jz .Lprev_out
	mov rbx, qword ptr [rip + klp_patches]
.Lprev_loop:
	lea rax, [rip + klp_patches]
	cmp rbx, rax
	je .Lprev_out
	lea rdi, [rbx - KLP_PATCH_list]
	cmp rdi, r13
	je .Lprev_out
	mov rsi, r12
	call klp_get_state
	test rax, rax
	cmovnz r14, rax
	mov rbx, qword ptr [rbx]
	jmp .Lprev_loop
.Lprev_out:
	mov rax, r14
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
SYM_FUNC_END klp_get_prev_state
EXPORT_SYMBOL klp_get_prev_state
