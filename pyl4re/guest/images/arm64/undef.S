// undef.S: an ARM64 test guest for pyl4re's guest machine code (docs/vm.md, tests/
// test_guest_machine_arm64.py): an undefined instruction at EL1 is the guest's own
// synchronous exception. It sets VBAR_EL1, executes `udf #0x42`, and its handler at
// VBAR_EL1 + 0x200 (current EL, SP_EL1) keeps ESR_EL1 and ELR_EL1, steps ELR_EL1 past the
// instruction and returns with ERET. Then it powers off with the VMM's shutdown hypercall
// (x0 = 0x5d): the code is the ESR_EL1 the handler saw if ELR_EL1 named the undefined
// instruction and the guest came back to EL1h with interrupts still masked, else 1.
// Position independent, loaded at the start of guest RAM.

.equ HC_SHUTDOWN, 0x5d

.text
.globl _start
_start:
    adr     x1, vectors
    msr     vbar_el1, x1
    mov     x20, #0
    mov     x21, #0
undefined:
    udf     #0x42
    adr     x22, undefined              // where the exception came from
    cmp     x21, x22
    b.ne    fail
    mrs     x2, currentel               // back at EL1 ...
    cmp     x2, #4
    b.ne    fail
    mrs     x2, spsel                   // ... on SP_EL1 ...
    cbz     x2, fail
    mrs     x2, daif                    // ... with interrupts masked, as before
    tbz     x2, #7, fail
    mov     x1, x20
    mov     x0, #HC_SHUTDOWN
    hvc     #0
    b       .
fail:
    mov     x1, #1
    mov     x0, #HC_SHUTDOWN
    hvc     #0
    b       .

.balign 2048
vectors:
    .rept 4                             // EL1t: not expected
    b       fail
    .balign 0x80
    .endr
sync:                                   // +0x200: synchronous, current EL with SP_EL1
    mrs     x20, esr_el1
    mrs     x21, elr_el1
    add     x2, x21, #4
    msr     elr_el1, x2
    eret
.balign 0x80
    .rept 11                            // IRQ, FIQ, SError from EL1h; lower ELs
    b       fail
    .balign 0x80
    .endr
