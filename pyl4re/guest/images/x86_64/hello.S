// hello.S: a bare-metal x86-64 test guest for pyl4re's guest machine code (docs/vm.md).
// Assembled at test time: llvm-mc -triple=x86_64-none-elf -filetype=obj; its .text is
// position independent and runs at the start of guest RAM (the platform of
// tests/test_guest_machine_x86_64.py: RAM at 0x40000000, VirtIO console at 0x20000000 on
// line 1 = vector 0x21, VirtIO block at 0x20001000 on line 2 = vector 0x22, the VMM's
// local APIC at 0xfee00000). Booted in 64-bit mode without paging, rsi = the DTB's
// address. It loads a GDT and an IDT, prints through the console's transmit queue, writes
// sector 1 of the block device and reads it back, takes the device interrupts and a LAPIC
// timer interrupt (vector 0x40), and powers off with the VMM's shutdown hypercall
// (VMCALL, rax = 0x5d, rbx = the code).

.equ RAM,        0x40000000
.equ CON,        0x20000000
.equ BLK,        0x20001000
.equ LAPIC,      0xfee00000
.equ CQ,         RAM + 0x10000     // console transmitq: desc +0, avail +0x100, used +0x200
.equ BQ,         RAM + 0x11000     // block requestq, the same layout
.equ REQ,        RAM + 0x12000     // block request header (type, reserved, sector)
.equ DATA,       RAM + 0x12200     // the sector written
.equ BACK,       RAM + 0x12400     // the sector read back
.equ STATUS,     RAM + 0x12600     // the request's status byte
.equ COUNTS,     RAM + 0x13000     // +0 timer interrupts, +4 device interrupts
.equ IDT,        RAM + 0x14000     // 256 gates of 16 bytes
.equ DESC,       RAM + 0x15000     // +0 the GDTR, +16 the IDTR (limit, base)
.equ AREA_END,   RAM + 0x16000
.equ STACK,      RAM + 0x20000
.equ HC_SHUTDOWN, 0x5d
.equ TIMER_VEC,  0x40
.equ CON_VEC,    0x21
.equ BLK_VEC,    0x22

.text
.globl _start
_start:
    movq    %rsi, %r15                  // the boot argument: the device tree
    movl    $STACK, %esp
    movl    $CQ, %edi                   // rings, buffers, counters, IDT: zero
    movl    $((AREA_END - CQ) / 8), %ecx
    xorl    %eax, %eax
    rep stosq
    leaq    gdt(%rip), %rax             // our GDT: null, 64-bit code 0x08, data 0x10
    movw    $(gdt_end - gdt - 1), DESC
    movq    %rax, DESC + 2
    lgdt    DESC
    pushq   $0x08
    leaq    1f(%rip), %rax
    pushq   %rax
    lretq                               // CS = 0x08 from the GDT (IRETQ reloads it)
1:  movl    $0x10, %eax
    movl    %eax, %ds
    movl    %eax, %es
    movl    %eax, %ss
    leaq    unexpected(%rip), %rax      // every vector fails, but ours
    xorl    %edi, %edi
2:  call    set_gate
    incl    %edi
    cmpl    $256, %edi
    jb      2b
    leaq    timer_irq(%rip), %rax
    movl    $TIMER_VEC, %edi
    call    set_gate
    leaq    dev_irq(%rip), %rax
    movl    $CON_VEC, %edi
    call    set_gate
    movl    $BLK_VEC, %edi
    call    set_gate
    movw    $0xfff, DESC + 16
    movq    $IDT, DESC + 18
    lidt    DESC + 16
    movl    (%r15), %eax                // "d00dfeed", big-endian
    cmpl    $0xedfe0dd0, %eax
    jne     fail

    movl    $CON, %edi
    movl    $1, %esi                    // transmitq
    movl    $CQ, %edx
    call    vinit
    leaq    msg_hello(%rip), %rax
    movl    $(msg_hello_end - msg_hello), %ecx
    call    puts

    movl    $BLK, %edi
    xorl    %esi, %esi
    movl    $BQ, %edx
    call    vinit
    movq    0x100(%rdi), %rax           // config: capacity (64-bit), blk_size (movzx)
    cmpq    $2, %rax
    jb      fail
    movzwl  0x114(%rdi), %ecx
    cmpl    $512, %ecx
    jne     fail
    movl    $DATA, %edi                 // the pattern: byte i = i * 7 + 3
    xorl    %ecx, %ecx
3:  imull   $7, %ecx, %eax
    addl    $3, %eax
    movb    %al, (%rdi,%rcx)
    incl    %ecx
    cmpl    $512, %ecx
    jb      3b
    movl    $1, %eax                    // VIRTIO_BLK_T_OUT
    movl    $DATA, %ebx
    xorl    %r9d, %r9d                  // the device reads the data
    call    blk_request
    xorl    %eax, %eax                  // VIRTIO_BLK_T_IN
    movl    $BACK, %ebx
    movl    $2, %r9d                    // VIRTQ_DESC_F_WRITE: the device writes it
    call    blk_request
    xorl    %ecx, %ecx
4:  movq    DATA(%rcx), %rax
    cmpq    BACK(%rcx), %rax
    jne     fail
    addl    $8, %ecx
    cmpl    $512, %ecx
    jb      4b
    leaq    msg_block(%rip), %rax
    movl    $(msg_block_end - msg_block), %ecx
    call    puts

    movl    $LAPIC, %ebx                // the timer: 20 us from now
    movl    $0x1ff, 0xf0(%rbx)          // spurious vector 0xff, APIC enabled
    movl    $0xb, 0x3e0(%rbx)           // divide by 1: a count per ns
    movl    $TIMER_VEC, %eax            // one-shot, unmasked
    movl    %eax, 0x320(%rbx)
    movl    $20000, %r12d
    movl    %r12d, 0x380(%rbx)          // initial count: it starts
5:  cli                                 // wait: sti; hlt cannot miss the interrupt
    movl    COUNTS, %eax
    testl   %eax, %eax
    jnz     6f
    sti
    hlt
    jmp     5b
6:  movl    0x390(%rbx), %eax           // it expired: the current count is 0
    testl   %eax, %eax
    jnz     fail
    leaq    msg_timer(%rip), %rax
    movl    $(msg_timer_end - msg_timer), %ecx
    call    puts
    movl    COUNTS + 4, %eax
    testl   %eax, %eax
    jz      fail
    leaq    msg_dev(%rip), %rax
    movl    $(msg_dev_end - msg_dev), %ecx
    call    puts
    leaq    msg_off(%rip), %rax
    movl    $(msg_off_end - msg_off), %ecx
    call    puts
    movl    $HC_SHUTDOWN, %eax
    xorl    %ebx, %ebx
    vmcall
    jmp     .

fail:
    cli
    leaq    msg_fail(%rip), %rax
    movl    $(msg_fail_end - msg_fail), %ecx
    call    puts
    movl    $HC_SHUTDOWN, %eax
    movl    $1, %ebx
    vmcall
    jmp     .

// set_gate(edi = vector, rax = handler): a present 64-bit interrupt gate, selector 0x08.
set_gate:
    movq    %rax, %rdx
    andl    $0xffff, %edx               // offset 15:0
    orl     $0x00080000, %edx           // selector
    movq    %rax, %rsi
    andl    $0xffff0000, %esi           // offset 31:16
    orl     $0x8e00, %esi               // P, DPL 0, interrupt gate
    shlq    $32, %rsi
    orq     %rsi, %rdx
    movl    %edi, %esi
    shll    $4, %esi
    movq    %rdx, IDT(%rsi)
    movq    %rax, %rdx
    shrq    $32, %rdx
    movq    %rdx, IDT + 8(%rsi)
    ret

// vinit(rdi = device window, esi = queue index, rdx = queue area): VirtIO 1.x MMIO
// initialisation with 16 descriptors; fails unless the device is there and takes VERSION_1.
vinit:
    movl    (%rdi), %eax                // MagicValue
    cmpl    $0x74726976, %eax
    jne     fail
    movl    $0, 0x70(%rdi)              // Status = 0: reset
    movl    $1, %eax                    // ACKNOWLEDGE
    movl    %eax, 0x70(%rdi)
    movl    $3, %eax                    // | DRIVER
    movl    %eax, 0x70(%rdi)
    movl    $1, %eax
    movl    %eax, 0x24(%rdi)            // DriverFeaturesSel = 1
    movl    %eax, 0x20(%rdi)            // VIRTIO_F_VERSION_1 (feature bit 32)
    movl    $0, 0x24(%rdi)
    movl    $0, 0x20(%rdi)
    movl    $0xb, %ecx                  // | FEATURES_OK
    movl    %ecx, 0x70(%rdi)
    movl    0x70(%rdi), %r8d
    testl   $8, %r8d
    jz      fail                        // refused
    movl    %esi, 0x30(%rdi)            // QueueSel
    movl    0x34(%rdi), %r9d            // QueueNumMax
    cmpl    $16, %r9d
    jb      fail
    movl    $16, 0x38(%rdi)             // QueueNum
    movl    %edx, 0x80(%rdi)            // QueueDesc
    movq    %rdx, %rax
    shrq    $32, %rax
    movl    %eax, 0x84(%rdi)
    leaq    0x100(%rdx), %rax           // QueueDriver: the available ring
    movl    %eax, 0x90(%rdi)
    shrq    $32, %rax
    movl    %eax, 0x94(%rdi)
    leaq    0x200(%rdx), %rax           // QueueDevice: the used ring
    movl    %eax, 0xa0(%rdi)
    shrq    $32, %rax
    movl    %eax, 0xa4(%rdi)
    movl    $1, %r10d
    movl    %r10d, 0x44(%rdi)           // QueueReady
    movl    $0xf, %eax                  // | DRIVER_OK
    movl    %eax, 0x70(%rdi)
    ret

// submit(rdi = device window, esi = queue index, rdx = queue area, ecx = head descriptor):
// offers the chain and waits until the device has used it.
submit:
    movzwl  0x102(%rdx), %eax           // avail.idx
    movl    %eax, %r8d
    andl    $15, %r8d
    movw    %cx, 0x104(%rdx,%r8,2)      // avail.ring[idx % 16]
    incl    %eax
    movw    %ax, 0x102(%rdx)
    mfence
    movl    %esi, 0x50(%rdi)            // QueueNotify
7:  movw    0x202(%rdx), %r8w           // used.idx
    cmpw    %ax, %r8w
    jne     7b
    ret

// puts(rax = bytes, ecx = length): one buffer on the console's transmitq.
puts:
    movl    $CQ, %edx
    movq    %rax, (%rdx)                // desc[0]: addr, len, flags 0, next 0
    movl    %ecx, 8(%rdx)
    movl    $0, 12(%rdx)
    movl    $CON, %edi
    movl    $1, %esi
    xorl    %ecx, %ecx
    jmp     submit

// blk_request(eax = type, rbx = buffer, r9d = its descriptor flags): one request on
// sector 1 (header, 512 bytes, status); fails unless its status is VIRTIO_BLK_S_OK.
blk_request:
    movl    $REQ, %r10d
    movl    %eax, (%r10)                // type
    movl    $0, 4(%r10)
    movq    $1, 8(%r10)                 // sector 1
    movl    $BQ, %edx
    movq    %r10, (%rdx)                // desc[0]: the header, NEXT -> 1
    movl    $16, 8(%rdx)
    movw    $1, 12(%rdx)
    movw    $1, 14(%rdx)
    movq    %rbx, 16(%rdx)              // desc[1]: the sector, NEXT -> 2
    movl    $512, 24(%rdx)
    movl    %r9d, %r11d
    orl     $1, %r11d
    movw    %r11w, 28(%rdx)
    movw    $2, 30(%rdx)
    movl    $STATUS, %r10d              // desc[2]: the status byte, WRITE
    movb    $0xff, (%r10)
    movq    %r10, 32(%rdx)
    movl    $1, 40(%rdx)
    movw    $2, 44(%rdx)
    movw    $0, 46(%rdx)
    movl    $BLK, %edi
    xorl    %esi, %esi
    xorl    %ecx, %ecx
    call    submit
    movzbl  STATUS, %eax
    testl   %eax, %eax
    jnz     fail
    ret

// The interrupt handlers (interrupt gates: IF is clear while they run).
timer_irq:                              // the LAPIC timer: count it, EOI
    pushq   %rdi
    incl    COUNTS
    movl    $LAPIC, %edi
    movl    $0, 0xb0(%rdi)              // EOI
    popq    %rdi
    iretq

dev_irq:                                // a device: acknowledge both, count it, EOI
    pushq   %rax
    pushq   %rcx
    pushq   %rdi
    movl    $CON, %edi
    movl    0x60(%rdi), %eax            // InterruptStatus
    movl    %eax, 0x64(%rdi)            // InterruptACK
    movl    $BLK, %edi
    movl    0x60(%rdi), %ecx
    movl    %ecx, 0x64(%rdi)
    incl    COUNTS + 4
    movl    $LAPIC, %edi
    movl    $0, 0xb0(%rdi)
    popq    %rdi
    popq    %rcx
    popq    %rax
    iretq

unexpected:
    jmp     fail

msg_hello:  .ascii "Hello from the guest\n"
msg_hello_end:
msg_block:  .ascii "block: sector 1 written and read back\n"
msg_block_end:
msg_timer:  .ascii "timer interrupt taken\n"
msg_timer_end:
msg_dev:    .ascii "device interrupts taken\n"
msg_dev_end:
msg_off:    .ascii "powering off\n"
msg_off_end:
msg_fail:   .ascii "guest: failure\n"
msg_fail_end:
.balign 8
gdt:
    .quad   0
    .quad   0x00af9a000000ffff          // 0x08: 64-bit code, DPL 0
    .quad   0x00cf92000000ffff          // 0x10: data
gdt_end:
