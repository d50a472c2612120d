// traps.S: an x86-64 test guest that takes its own exceptions (docs/vm.md, "Guest machine
// code"). It loads a GDT and an IDT with gates for #DE (0), #BP (3), #UD (6) and #GP (13),
// then raises each: INT3 (a trap: the frame's rip is past it), a divide by zero and UD2
// (faults: the frame's rip is the instruction, which the handler steps over), and a #GP
// from loading a selector past the GDT's limit into DS (a fault with an error code,
// popped by the handler). Every handler ORs 1 << vector into MASK and stores the frame's rip (and #GP's
// error code) at SEEN + 8 * vector; then the guest powers off (VMCALL, rax = 0x5d, rbx =
// MASK). Same platform as hello.S (RAM at 0x40000000, 64-bit mode, no paging).

.equ RAM,        0x40000000
.equ MASK,       RAM + 0x13000
.equ SEEN,       RAM + 0x13100
.equ IDT,        RAM + 0x14000
.equ DESC,       RAM + 0x15000
.equ STACK,      RAM + 0x20000
.equ HC_SHUTDOWN, 0x5d

.text
.globl _start
.globl at_de, at_ud, at_gp, after_bp
_start:
    movl    $STACK, %esp
    movl    $0, MASK
    leaq    gdt(%rip), %rax
    movw    $(gdt_end - gdt - 1), DESC
    movq    %rax, DESC + 2
    lgdt    DESC
    pushq   $0x08
    leaq    1f(%rip), %rax
    pushq   %rax
    lretq
1:  movl    $0x10, %eax
    movl    %eax, %ds
    movl    %eax, %ss
    leaq    de(%rip), %rax
    movl    $0, %ecx
    call    gate
    leaq    bp(%rip), %rax
    movl    $3, %ecx
    call    gate
    leaq    ud(%rip), %rax
    movl    $6, %ecx
    call    gate
    leaq    gp(%rip), %rax
    movl    $13, %ecx
    call    gate
    movw    $0xfff, DESC + 16
    movq    $IDT, DESC + 18
    lidt    DESC + 16
    int3
after_bp:
    xorl    %ecx, %ecx
    movl    $1, %eax
    xorl    %edx, %edx
at_de:
    divl    %ecx                        // #DE (2 bytes)
at_ud:
    ud2                                 // #UD (2 bytes)
    movl    $0x1234, %eax
at_gp:
    movl    %eax, %ds                   // a selector past the GDT's limit: #GP (2 bytes)
    movl    $HC_SHUTDOWN, %eax
    movl    MASK, %ebx
    vmcall
    jmp     .

// gate: the 64-bit interrupt gate for the handler at rax into IDT slot ecx.
gate:
    movq    %rax, %rdx
    andl    $0xffff, %edx
    orl     $0x00080000, %edx
    movq    %rax, %rsi
    andl    $0xffff0000, %esi
    orl     $0x8e00, %esi
    shlq    $32, %rsi
    orq     %rsi, %rdx
    shll    $4, %ecx
    movq    %rdx, IDT(%rcx)
    shrq    $32, %rax
    movq    %rax, IDT + 8(%rcx)
    ret

de: orl     $(1 << 0), MASK
    movq    (%rsp), %rax
    movq    %rax, SEEN + 8 * 0
    addq    $2, (%rsp)                  // step over the divide
    iretq
bp: orl     $(1 << 3), MASK
    movq    (%rsp), %rax
    movq    %rax, SEEN + 8 * 3
    iretq
ud: orl     $(1 << 6), MASK
    movq    (%rsp), %rax
    movq    %rax, SEEN + 8 * 6
    addq    $2, (%rsp)                  // step over UD2
    iretq
gp: orl     $(1 << 13), MASK
    popq    %rax                        // the error code
    movq    %rax, SEEN + 8 * 14
    movq    (%rsp), %rax
    movq    %rax, SEEN + 8 * 13
    addq    $2, (%rsp)                  // step over the load
    iretq

gdt:
    .quad   0
    .quad   0x00af9a000000ffff          // 0x08: 64-bit code
    .quad   0x00cf92000000ffff          // 0x10: data
gdt_end:
