// mmio.S: an MMIO-bound x86-64 test guest for pyl4re's guest machine code (docs/vm.md,
// docs/benchmarks.md "Guest machine code"). Position independent, loaded at the start of
// guest RAM, with the VirtIO console's window at 0x20000000 (the platform of hello.S).
// Each iteration of its loop loads the console's MagicValue register (checked: a wrong
// value powers off with code 1) and stores 0 to its QueueSel register, two MMIO exits
// the VMM emulates (the model decodes each instruction, as uvmm does on x86); then it
// powers off with the shutdown hypercall (VMCALL, rax = 0x5d, rbx = 0).
// The image's bytes 8..15 are the iteration count (little-endian, a parameter the loader
// patches: pyl4re.bench.guest_cases); 0 loops forever.

.equ CON,         0x20000000
.equ MAGIC_VALUE, 0x00
.equ QUEUE_SEL,   0x30
.equ HC_SHUTDOWN, 0x5d

.text
.globl _start
_start:
    jmp     start
.balign 8
count:
    .quad   1000
start:
    movq    count(%rip), %rcx
    movl    $CON, %edi
loop:
    movl    MAGIC_VALUE(%rdi), %eax     // an MMIO load exit
    cmpl    $0x74726976, %eax           // "virt"
    jne     fail
    movl    $0, QUEUE_SEL(%rdi)         // an MMIO store exit
    subq    $1, %rcx
    jne     loop
    movl    $HC_SHUTDOWN, %eax
    xorl    %ebx, %ebx
    vmcall
    jmp     .
fail:
    movl    $HC_SHUTDOWN, %eax
    movl    $1, %ebx
    vmcall
    jmp     .
