// spin.S: a compute-bound ARM64 test guest for pyl4re's guest machine code (docs/vm.md,
// docs/benchmarks.md "Guest machine code"). Position independent, loaded at the start of
// guest RAM. It runs a loop of register arithmetic, no memory access, then powers off
// with the VMM's shutdown hypercall (HVC, x0 = 0x5d, x1 = 0).
// The image's bytes 8..15 are the loop's iteration count (little-endian, a parameter the
// loader patches: pyl4re.bench.guest_cases); each iteration is 4 instructions, so a run
// executes 4 * count + 7 instructions. A count of 0 loops forever (a spinning guest).

.equ HC_SHUTDOWN, 0x5d

.text
.globl _start
_start:
    b       start
    .word   0
count:
    .quad   1000000
start:
    ldr     x1, count                   // the iterations left (0: never ends)
    mov     x2, #0
    mov     x3, #1
loop:
    add     x2, x2, x3                  // x2 counts up, x3 is a running sum
    add     x3, x3, x2
    subs    x1, x1, #1
    b.ne    loop
    mov     x0, #HC_SHUTDOWN
    mov     x1, #0
    hvc     #0
    b       .
