// poll.S: an ARM64 test guest for pyl4re's guest machine code (docs/vm.md, tests/
// test_guest_machine_arm64.py): it polls the word at RAM + 0x2000 (the VMM or another
// thread changes what is there: remaps the page, writes the frame) and powers off with the
// VMM's shutdown hypercall (x0 = 0x5d), the value it read as the code. Position
// independent, loaded at the start of guest RAM (0x40000000). The poll loop's branch is at
// image offset 0x10 (`wait`): a test patches it from outside to see the guest run what
// is in its code frame now.

.equ RAM,         0x40000000
.equ WATCHED,     RAM + 0x2000
.equ HC_SHUTDOWN, 0x5d

.text
.globl _start
_start:
    ldr     x1, =WATCHED
    mov     x2, #0
    nop
loop:
    ldr     x2, [x1]
wait:                                   // offset 0x10
    cbz     x2, loop
    mov     x1, x2
    mov     x0, #HC_SHUTDOWN
    hvc     #0
    b       .
.balign 8
.ltorg
