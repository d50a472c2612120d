// svc.S: an ARM64 test guest that takes its own SVC and BRK (docs/vm.md, tests/
// test_guest_machine_arm64.py). It sets VBAR_EL1, drops to EL0 (ERET with SPSR_EL1 =
// EL0t), makes `svc #0x12` there, and its EL0 synchronous handler (VBAR_EL1 + 0x400)
// keeps ESR_EL1 and ELR_EL1 and returns (ELR_EL1 is already past the SVC); back at EL0 it
// makes `brk #0x34`, whose handler keeps them again and steps ELR_EL1 past the BRK. Then
// EL0 makes `svc #0x5d` to ask EL1 to power off: the handler calls the VMM's shutdown
// hypercall (x0 = 0x5d) with a code that is 0 only if both syndromes and both return
// addresses were as the architecture gives them; else the failing check's number.
// Position independent, loaded at the start of guest RAM.

.equ HC_SHUTDOWN, 0x5d
.equ STACK,       0x100000              // an EL0 stack 1 MiB into RAM

.text
.globl _start
_start:
image:
    adr     x1, vectors
    msr     vbar_el1, x1
    mov     x25, #0                     // how many synchronous exceptions EL1 took
    adr     x1, el0
    msr     elr_el1, x1
    msr     spsr_el1, xzr               // EL0t, interrupts unmasked (none come)
    adr     x1, image
    add     x1, x1, #STACK
    msr     sp_el0, x1
    eret
el0:
at_svc:
    svc     #0x12
after_svc:
at_brk:
    brk     #0x34
    svc     #0x5d                       // done: EL1 checks and powers off
    b       .

.balign 2048
vectors:
    .rept 8                             // EL1t, EL1h: not expected
    b       .
    .balign 0x80
    .endr
lower_sync:                             // +0x400: synchronous from EL0 (AArch64)
    mrs     x20, esr_el1
    mrs     x21, elr_el1
    add     x25, x25, #1
    cmp     x25, #1
    b.eq    first
    cmp     x25, #2
    b.eq    second
    b       finish
first:
    mov     x22, x20                    // SVC #0x12: kept
    mov     x23, x21
    eret
second:
    mov     x24, x20                    // BRK #0x34: kept, stepped over
    mov     x26, x21
    add     x21, x21, #4
    msr     elr_el1, x21
    eret
finish:
    mov     x1, #1
    movz    x2, #0x12                   // ESR: EC 0x15, IL, imm 0x12
    movk    x2, #0x5600, lsl #16
    cmp     x22, x2
    b.ne    off
    mov     x1, #2
    adr     x3, after_svc               // ELR: past the SVC
    cmp     x23, x3
    b.ne    off
    mov     x1, #3
    movz    x2, #0x34                   // ESR: EC 0x3C, IL, imm 0x34
    movk    x2, #0xf200, lsl #16
    cmp     x24, x2
    b.ne    off
    mov     x1, #4
    adr     x3, at_brk                  // ELR: the BRK
    cmp     x26, x3
    b.ne    off
    mov     x1, #0
off:
    mov     x0, #HC_SHUTDOWN
    hvc     #0
    b       .
.balign 0x80
    .rept 7                             // IRQ, FIQ, SError from EL0; AArch32
    b       .
    .balign 0x80
    .endr
