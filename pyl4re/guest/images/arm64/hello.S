// hello.S: a bare-metal ARM64 test guest for pyl4re's guest machine code (docs/vm.md).
// Assembled at test time: llvm-mc -triple=aarch64-none-elf -filetype=obj; its .text is
// position independent and runs at the start of guest RAM (the platform of
// examples/vm_basic.py: RAM at 0x40000000, VirtIO console at 0x20000000 on SPI 1, VirtIO
// block at 0x20001000 on SPI 2). Booted as uvmm boots a kernel: x0 = the DTB's address.
// It prints through the console's transmit queue, writes sector 1 of the block device and
// reads it back, takes interrupts at VBAR_EL1 (the devices' and the virtual timer's, PPI 27),
// and powers off with the VMM's shutdown hypercall (HVC, x0 = 0x5d, x1 = the code).

.equ RAM,        0x40000000
.equ CON,        0x20000000
.equ BLK,        0x20001000
.equ CQ,         RAM + 0x10000     // console transmitq: desc +0, avail +0x100, used +0x200
.equ BQ,         RAM + 0x11000     // block requestq, the same layout
.equ REQ,        RAM + 0x12000     // block request header (type, reserved, sector)
.equ DATA,       RAM + 0x12200     // the sector written
.equ BACK,       RAM + 0x12400     // the sector read back
.equ STATUS,     RAM + 0x12600     // the request's status byte
.equ COUNTS,     RAM + 0x13000     // +0 timer interrupts, +4 device interrupts
.equ AREA_END,   RAM + 0x14000
.equ STACK,      RAM + 0x20000
.equ HC_SHUTDOWN, 0x5d

.text
.globl _start
_start:
    mov     x19, x0                     // the boot argument: the device tree
    ldr     x1, =STACK
    mov     sp, x1
    adr     x1, vectors
    msr     vbar_el1, x1
    ldr     x1, =CQ                     // rings, buffers, counters: zero
    ldr     x2, =AREA_END
0:  stp     xzr, xzr, [x1], #16
    cmp     x1, x2
    b.lo    0b
    ldr     w1, [x19]                   // "d00dfeed", big-endian
    ldr     w2, =0xedfe0dd0
    cmp     w1, w2
    b.ne    fail

    ldr     x0, =CON
    mov     x1, #1                      // transmitq
    ldr     x2, =CQ
    bl      vinit
    adr     x0, msg_hello
    mov     x1, #(msg_hello_end - msg_hello)
    bl      puts

    ldr     x0, =BLK
    mov     x1, #0
    ldr     x2, =BQ
    bl      vinit
    ldr     x1, =DATA                   // the pattern: byte i = i * 7 + 3
    mov     w2, #0
1:  mov     w3, #7
    mul     w3, w2, w3
    add     w3, w3, #3
    strb    w3, [x1, x2]
    add     w2, w2, #1
    cmp     w2, #512
    b.lo    1b
    mov     w0, #1                      // VIRTIO_BLK_T_OUT
    ldr     x1, =DATA
    mov     w2, #0                      // the device reads the data
    bl      blk_request
    mov     w0, #0                      // VIRTIO_BLK_T_IN
    ldr     x1, =BACK
    mov     w2, #2                      // VIRTQ_DESC_F_WRITE: the device writes it
    bl      blk_request
    ldr     x1, =DATA
    ldr     x2, =BACK
    mov     x3, #0
2:  ldr     x4, [x1, x3]
    ldr     x5, [x2, x3]
    cmp     x4, x5
    b.ne    fail
    add     x3, x3, #8
    cmp     x3, #512
    b.lo    2b
    adr     x0, msg_block
    mov     x1, #(msg_block_end - msg_block)
    bl      puts

    mrs     x1, cntfrq_el0              // the timer: 20 us from now
    mov     x2, #50000
    udiv    x1, x1, x2
    mrs     x2, cntvct_el0
    add     x1, x1, x2
    msr     cntv_cval_el0, x1
    mov     x1, #1                      // ENABLE
    msr     cntv_ctl_el0, x1
    msr     daifclr, #2                 // take interrupts
    ldr     x20, =COUNTS
3:  ldr     w1, [x20]
    cbnz    w1, 4f
    wfi
    b       3b
4:  msr     daifset, #2
    adr     x0, msg_timer
    mov     x1, #(msg_timer_end - msg_timer)
    bl      puts
    ldr     w1, [x20, #4]
    cbz     w1, fail
    adr     x0, msg_dev
    mov     x1, #(msg_dev_end - msg_dev)
    bl      puts
    adr     x0, msg_off
    mov     x1, #(msg_off_end - msg_off)
    bl      puts
    mov     x0, #HC_SHUTDOWN
    mov     x1, #0
    hvc     #0
    b       .

fail:
    adr     x0, msg_fail
    mov     x1, #(msg_fail_end - msg_fail)
    bl      puts
    mov     x0, #HC_SHUTDOWN
    mov     x1, #1
    hvc     #0
    b       .

// vinit(x0 = device window, x1 = queue index, x2 = queue area): VirtIO 1.x MMIO
// initialisation with 16 descriptors; fails unless the device is there and takes VERSION_1.
vinit:
    ldr     w3, [x0]                    // MagicValue
    ldr     w4, =0x74726976
    cmp     w3, w4
    b.ne    fail
    str     wzr, [x0, #0x70]            // Status = 0: reset
    mov     w3, #1                      // ACKNOWLEDGE
    str     w3, [x0, #0x70]
    mov     w3, #3                      // | DRIVER
    str     w3, [x0, #0x70]
    mov     w3, #1
    str     w3, [x0, #0x24]             // DriverFeaturesSel = 1
    str     w3, [x0, #0x20]             // VIRTIO_F_VERSION_1 (feature bit 32)
    str     wzr, [x0, #0x24]
    str     wzr, [x0, #0x20]
    mov     w3, #0xb                    // | FEATURES_OK
    str     w3, [x0, #0x70]
    ldr     w5, [x0, #0x70]
    tbz     w5, #3, fail                // refused
    str     w1, [x0, #0x30]             // QueueSel
    ldr     w6, [x0, #0x34]             // QueueNumMax
    cmp     w6, #16
    b.lo    fail
    mov     w3, #16
    str     w3, [x0, #0x38]             // QueueNum
    str     w2, [x0, #0x80]             // QueueDesc
    lsr     x3, x2, #32
    str     w3, [x0, #0x84]
    add     x3, x2, #0x100              // QueueDriver: the available ring
    str     w3, [x0, #0x90]
    lsr     x3, x3, #32
    str     w3, [x0, #0x94]
    add     x3, x2, #0x200              // QueueDevice: the used ring
    str     w3, [x0, #0xa0]
    lsr     x3, x3, #32
    str     w3, [x0, #0xa4]
    mov     w7, #1
    str     w7, [x0, #0x44]             // QueueReady
    mov     w3, #0xf                    // | DRIVER_OK
    str     w3, [x0, #0x70]
    ret

// submit(x0 = device window, x1 = queue index, x2 = queue area, w3 = head descriptor):
// offers the chain and waits until the device has used it.
submit:
    ldrh    w4, [x2, #0x102]            // avail.idx
    and     w5, w4, #15
    add     x6, x2, #0x104
    strh    w3, [x6, x5, lsl #1]        // avail.ring[idx % 16]
    add     w4, w4, #1
    dmb     ish
    strh    w4, [x2, #0x102]
    dmb     ish
    str     w1, [x0, #0x50]             // QueueNotify
5:  ldrh    w5, [x2, #0x202]            // used.idx
    cmp     w5, w4
    b.ne    5b
    ret

// puts(x0 = bytes, x1 = length): one buffer on the console's transmitq.
puts:
    mov     x9, x30
    ldr     x2, =CQ
    str     x0, [x2]                    // desc[0]: addr, len, flags 0, next 0
    str     w1, [x2, #8]
    str     wzr, [x2, #12]
    ldr     x0, =CON
    mov     x1, #1
    mov     w3, #0
    bl      submit
    mov     x30, x9
    ret

// blk_request(w0 = type, x1 = buffer, w2 = its descriptor flags): one request on
// sector 1 (header, 512 bytes, status); fails unless its status is VIRTIO_BLK_S_OK.
blk_request:
    mov     x9, x30
    ldr     x3, =REQ
    str     w0, [x3]                    // type
    str     wzr, [x3, #4]
    mov     x4, #1
    str     x4, [x3, #8]                // sector 1
    ldr     x4, =BQ
    str     x3, [x4]                    // desc[0]: the header, NEXT -> 1
    mov     w5, #16
    str     w5, [x4, #8]
    mov     w5, #1
    strh    w5, [x4, #12]
    strh    w5, [x4, #14]
    str     x1, [x4, #16]               // desc[1]: the sector, NEXT -> 2
    mov     w5, #512
    str     w5, [x4, #24]
    orr     w5, w2, #1
    strh    w5, [x4, #28]
    mov     w5, #2
    strh    w5, [x4, #30]
    ldr     x3, =STATUS                 // desc[2]: the status byte, WRITE
    mov     w5, #0xff
    strb    w5, [x3]
    str     x3, [x4, #32]
    mov     w5, #1
    str     w5, [x4, #40]
    mov     w5, #2
    strh    w5, [x4, #44]
    strh    wzr, [x4, #46]
    ldr     x0, =BLK
    mov     x1, #0
    mov     x2, x4
    mov     w3, #0
    bl      submit
    ldr     x3, =STATUS
    ldrb    w5, [x3]
    cbnz    w5, fail
    mov     x30, x9
    ret

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
.ltorg

// The vector table: only the IRQ from EL1h is expected; anything else fails.
.balign 2048
vectors:
    .rept 5                             // EL1t (4 entries), EL1h sync at +0x200
    b       fail
    .balign 0x80
    .endr
irq:                                    // +0x280: IRQ from EL1h
    sub     sp, sp, #48
    stp     x0, x1, [sp]
    stp     x2, x3, [sp, #16]
    str     x30, [sp, #32]
    mrs     x0, icc_iar1_el1            // the INTID taken
    cmp     w0, #27                     // the virtual timer: mask it, count it
    b.ne    6f
    mov     x1, #2                      // IMASK
    msr     cntv_ctl_el0, x1
    ldr     x1, =COUNTS
    ldr     w2, [x1]
    add     w2, w2, #1
    str     w2, [x1]
    b       7f
6:  cmp     w0, #1023                   // spurious: nothing to end
    b.eq    8f
    ldr     x1, =CON                    // a device: acknowledge both
    ldr     w2, [x1, #0x60]             // InterruptStatus
    str     w2, [x1, #0x64]             // InterruptACK
    ldr     x1, =BLK
    ldr     w3, [x1, #0x60]
    str     w3, [x1, #0x64]
    ldr     x1, =COUNTS
    ldr     w2, [x1, #4]
    add     w2, w2, #1
    str     w2, [x1, #4]
7:  msr     icc_eoir1_el1, x0
8:  ldr     x30, [sp, #32]
    ldp     x2, x3, [sp, #16]
    ldp     x0, x1, [sp]
    add     sp, sp, #48
    eret
.ltorg
