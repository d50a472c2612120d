// spin.S: a compute-bound x86-64 test guest for pyl4re's guest machine code (docs/vm.md,
// docs/benchmarks.md "Guest machine code"). Position independent, loaded at the start of
// guest RAM. It runs a loop of register arithmetic, no memory access, then powers off
// with the VMM's shutdown hypercall (VMCALL, rax = 0x5d, rbx = 0).
// The image's bytes 8..15 are the loop's iteration count (little-endian, a parameter the
// loader patches: pyl4re.bench.guest_cases); each iteration is 4 instructions. A count
// of 0 loops forever (a spinning guest).

.equ HC_SHUTDOWN, 0x5d

.text
.globl _start
_start:
    jmp     start
.balign 8
count:
    .quad   1000000
start:
    movq    count(%rip), %rcx           // the iterations left (0: never ends)
    xorl    %eax, %eax
    movl    $1, %ebx
loop:
    addq    %rbx, %rax                  // rax counts up, rbx is a running sum
    addq    %rax, %rbx
    subq    $1, %rcx
    jne     loop
    movl    $HC_SHUTDOWN, %eax
    xorl    %ebx, %ebx
    vmcall
    jmp     .
