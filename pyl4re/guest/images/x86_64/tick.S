// tick.S: an x86-64 test guest that never exits by itself (docs/vm.md, "Guest machine
// code"): it arms the local APIC's timer periodic (every 50 us, vector 0x40), unmasks
// interrupts and spins reading a counter in RAM; its handler counts and EOIs. After
// three interrupts it powers off (VMCALL, rax = 0x5d, rbx = the count). Only the VMM's
// timer thread can cut into the loop. Same platform as hello.S (RAM at 0x40000000).

.equ RAM,        0x40000000
.equ LAPIC,      0xfee00000
.equ COUNT,      RAM + 0x13000
.equ IDT,        RAM + 0x14000
.equ DESC,       RAM + 0x15000
.equ STACK,      RAM + 0x20000
.equ HC_SHUTDOWN, 0x5d
.equ TIMER_VEC,  0x40

.text
.globl _start
_start:
    movl    $STACK, %esp
    movl    $0, COUNT
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
    leaq    timer_irq(%rip), %rax       // the timer's gate: a 64-bit interrupt gate
    movq    %rax, %rdx
    andl    $0xffff, %edx
    orl     $0x00080000, %edx
    movq    %rax, %rsi
    andl    $0xffff0000, %esi
    orl     $0x8e00, %esi
    shlq    $32, %rsi
    orq     %rsi, %rdx
    movq    %rdx, IDT + TIMER_VEC * 16
    shrq    $32, %rax
    movq    %rax, IDT + TIMER_VEC * 16 + 8
    movw    $0xfff, DESC + 16
    movq    $IDT, DESC + 18
    lidt    DESC + 16
    movl    $LAPIC, %ebx
    movl    $0x1ff, 0xf0(%rbx)          // APIC enabled, spurious vector 0xff
    movl    $0xb, 0x3e0(%rbx)           // divide by 1: a count per ns
    movl    $(TIMER_VEC | 0x20000), %eax    // periodic, unmasked
    movl    %eax, 0x320(%rbx)
    movl    $50000, %eax
    movl    %eax, 0x380(%rbx)           // every 50 us
    sti
2:  movl    COUNT, %eax                 // spin: no exit of our own
    cmpl    $3, %eax
    jb      2b
    cli
    movl    $HC_SHUTDOWN, %eax
    movl    COUNT, %ebx
    vmcall
    jmp     .

timer_irq:
    pushq   %rdi
    incl    COUNT
    movl    $LAPIC, %edi
    movl    $0, 0xb0(%rdi)              // EOI
    popq    %rdi
    iretq

gdt:
    .quad   0
    .quad   0x00af9a000000ffff          // 0x08: 64-bit code
    .quad   0x00cf92000000ffff          // 0x10: data
gdt_end:
