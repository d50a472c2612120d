// mmio.S: an MMIO-bound ARM64 test guest for pyl4re's guest machine code (docs/vm.md,
// docs/benchmarks.md "Guest machine code"). Position independent, loaded at the start of
// guest RAM, with the VirtIO console's window at 0x20000000 (the platform of hello.S).
// Each iteration of its loop loads the console's MagicValue register (checked: a wrong
// value powers off with code 1) and stores 0 to its QueueSel register, two MMIO exits
// the VMM emulates; then it powers off with the shutdown hypercall (x0 = 0x5d, x1 = 0).
// The image's bytes 8..15 are the iteration count (little-endian, a parameter the loader
// patches: pyl4re.bench.guest_cases); 0 loops forever.

.equ CON,         0x20000000
.equ MAGIC_VALUE, 0x00
.equ QUEUE_SEL,   0x30
.equ HC_SHUTDOWN, 0x5d

.text
.globl _start
_start:
    b       start
    .word   0
count:
    .quad   1000
start:
    ldr     x1, count
    ldr     x0, =CON
    ldr     w4, =0x74726976             // "virt"
loop:
    ldr     w3, [x0, #MAGIC_VALUE]      // an MMIO load exit
    cmp     w3, w4
    b.ne    fail
    str     wzr, [x0, #QUEUE_SEL]       // an MMIO store exit
    subs    x1, x1, #1
    b.ne    loop
    mov     x0, #HC_SHUTDOWN
    mov     x1, #0
    hvc     #0
    b       .
fail:
    mov     x0, #HC_SHUTDOWN
    mov     x1, #1
    hvc     #0
    b       .
.balign 8
.ltorg
