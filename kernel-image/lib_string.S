# lib_string.S - lib/string.c: memcpy, memset, strlen, strcmp, strncmp, strscpy

.section .text

SYM_FUNC_START memcpy
	push rbp
	mov rbp, rsp
	mov rax, rdi
	mov rcx, rdx
	rep movsb
	pop rbp
	ret
SYM_FUNC_END memcpy
EXPORT_SYMBOL memcpy

# memset(s, c, n): eight bytes a store (rep stosq), then the tail (Unicorn runs each rep iteration alone)
SYM_FUNC_START memset
	push rbp
	mov rbp, rsp
	mov r8, rdi
	movzx eax, sil
	mov r9, 0x0101010101010101
	imul rax, r9
	mov rcx, rdx
	shr rcx, 3
	rep stosq
	mov rcx, rdx
	and rcx, 7
	rep stosb
	mov rax, r8
	pop rbp
	ret
SYM_FUNC_END memset
EXPORT_SYMBOL memset

SYM_FUNC_START strlen
	push rbp
	mov rbp, rsp
	xor eax, eax
.Lstrlen_loop:
	cmp byte ptr [rdi + rax], 0
	je .Lstrlen_done
	inc rax
	jmp .Lstrlen_loop
.Lstrlen_done:
	pop rbp
	ret
SYM_FUNC_END strlen
EXPORT_SYMBOL strlen

# strcmp(a, b) -> <0, 0, >0
SYM_FUNC_START strcmp
	push rbp
	mov rbp, rsp
.Lstrcmp_loop:
	movzx eax, byte ptr [rdi]
	movzx ecx, byte ptr [rsi]
	sub eax, ecx
	jne .Lstrcmp_done
	test ecx, ecx
	jz .Lstrcmp_done
	inc rdi
	inc rsi
	jmp .Lstrcmp_loop
.Lstrcmp_done:
	pop rbp
	ret
SYM_FUNC_END strcmp
EXPORT_SYMBOL strcmp

# strncmp(a, b, n)
SYM_FUNC_START strncmp
	push rbp
	mov rbp, rsp
	xor eax, eax
.Lstrncmp_loop:
	test rdx, rdx
	jz .Lstrncmp_done
	movzx eax, byte ptr [rdi]
	movzx ecx, byte ptr [rsi]
	sub eax, ecx
	jne .Lstrncmp_done
	test ecx, ecx
	jz .Lstrncmp_done
	inc rdi
	inc rsi
	dec rdx
	jmp .Lstrncmp_loop
.Lstrncmp_done:
	pop rbp
	ret
SYM_FUNC_END strncmp
EXPORT_SYMBOL strncmp

# strscpy(dst, src, size) -> length copied, or -E2BIG (-7) when truncated
SYM_FUNC_START strscpy
	push rbp
	mov rbp, rsp
	xor eax, eax
	test rdx, rdx
	jz .Lstrscpy_big
.Lstrscpy_loop:
	movzx ecx, byte ptr [rsi + rax]
	mov byte ptr [rdi + rax], cl
	test cl, cl
	jz .Lstrscpy_done
	inc rax
	cmp rax, rdx
	jb .Lstrscpy_loop
	mov byte ptr [rdi + rax - 1], 0
.Lstrscpy_big:
	mov rax, -7
.Lstrscpy_done:
	pop rbp
	ret
SYM_FUNC_END strscpy
EXPORT_SYMBOL strscpy
