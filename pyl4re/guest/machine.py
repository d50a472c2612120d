"""Guest machine code on Unicorn under the model's second stage (docs/vm.md, "Guest
machine code").

`Machine(cpu, image, load_gpa=None)` is a guest image (raw bytes, or an ELF file's bytes
parsed with pyelftools) for one architecture's CPU class; `machine.program` is a guest
program for the VMM (`VmConfig(program=machine.program)`): `program(dtb_gpa)` returns the
guest's `async main()`, which copies the image into guest RAM (guest-physical writes, as
a boot loader does), sets the registers from the entry point and the boot argument, and
runs the code on Unicorn in slices. What the model supplies is what hardware
virtualisation supplies:

* **The second stage.** Unicorn starts with nothing mapped. A page appears in Unicorn
  (`mem_map_ptr` onto the model's host-physical frame, with the rights of the nested
  entry) only after the kernel translated the guest-physical address through the VM's
  nested table (`pyl4re.guest._access`, the C walk guest programs use). A Unicorn
  unmapped or protection fault is that walk: a miss or a permission fault is the real
  stage-2 exit to the VMM, with the syndrome the CPU class decoded from the faulting
  instruction (`vm_guest_syndrome`: size, register, direction, store value). Pages
  leave Unicorn when the kernel's mapping epoch moves (`vm_mapping_epoch`, bumped by
  every unmap and revoke in C), checked after each slice and each exit.
* **Exits.** Hypercall and halt instructions are the hypercall and halt exits
  (`vm_guest_exit`), an emulated access finishes with the VMM's value in its register;
  across every exit the guest's registers are in the vCPU's `r` words (the VMM reads
  and changes them there) and come back into Unicorn afterwards.
* **Interrupts.** What the VMM injects (taken at the entry, `guest.on_interrupt`) and
  what the CPU's own timer raises are pending in the machine until the guest unmasks
  interrupts; then the CPU class enters the guest's vector table with them.
* **Time.** Each executed instruction costs `cpu.INSN_NS` of the vCPU's virtual time,
  charged after each slice with `traps.compute` (preemptible: the VMM's IRQs cut it, an
  IRQ exit); instructions are counted by a Unicorn code hook, so a count is the same
  on every run. Timer counters read the model's clock, never the host's.
* **Bad input.** A truncated image or one for another architecture is a `ValueError` from
  `Machine(...)`; a fetch or access outside what the VMM maps is its stage-2 exit (the
  VMM decides: uvmm-style, "guest fault at ..."); an undefined instruction or a guest
  that runs past `max_instructions` stops the VM with `machine.stopped` saying why (the
  guest program raises `GuestStopped`, the VMM sees the fault exit).

The per-architecture interface (a class per architecture, `cpu_arm64.Arm64`,
`cpu_x86_64.X86_64`; `Machine` knows no architecture). Class attributes:

    ARCH        the model's arch name ("arm64", "x86_64")
    UC_ARCH, UC_MODE   Unicorn's arch and mode constants
    ELF_MACHINE the ELF e_machine pyelftools reports ("EM_AARCH64", "EM_X86_64")
    INSN_NS     virtual nanoseconds one instruction costs (an int >= 1)
    PAGE        the granule pages are mapped in (4096)

and methods (`uc` the Unicorn instance, `m` the Machine: `m.now_ns()` the model's clock
for this vCPU, `m.pending` the vectors waiting for delivery, `m.stop(reason)`):

    __init__(self, uc, m)   the CPU's fixed state (e.g. EL2 present, traps on) and its
                            own hooks (UC_HOOK_INSN for system registers and timers)
    reset(entry, boot_arg)  the registers a booting kernel finds (arm64: x0 = the DTB's
                            gpa, PSTATE EL1h with DAIF masked; x86_64: its choice, said
                            in its module) and pc = entry
    pc() / set_pc(pc)       the guest program counter
    save(r) / restore(r)    the guest's general registers into / out of the vCPU's r
                            words (r supports r[i] = int and int(r[i]); the word numbers
                            are the architecture's vcpu layout: arm64 x0..x30 = 0..30)
    decode_access(pc, gpa, size, write, value) -> Access or None
                            the syndrome of the load or store at pc (Unicorn's fault
                            gives gpa, size, direction, a store's value): Access(size,
                            reg, write, value, info, length) with `reg` the register
                            number the architecture's syndrome names (arm64 SRT 0..31,
                            31 = xzr) and `info` the arch's extra syndrome bits for
                            arch/<arch>/vm.c (arm64: bit 0 SSE, bit 1 SF); None when
                            the hardware gives no syndrome (arm64 ISV = 0): the exit
                            then carries size 0
    complete_load(access, value)  an emulated load's value into its register (the
                            architecture's extension and width), pc past the access
    trap(intno, pc) -> Trap  what Unicorn's interrupt hook reported: Trap(kind, imm,
                            next_pc) with kind "hypercall" (imm its immediate),
                            "halt", "undefined", or None (ignored, go on at next_pc)
    irq_masked() -> bool    whether the guest masks interrupts now
    deliver(vector)         enter the guest's vector table with interrupt `vector`
                            (arm64: ELR_EL1/SPSR_EL1 saved, DAIF masked, pc = VBAR_EL1 +
                            the IRQ offset; the guest's ERET returns)
    timer_deadline_ns() -> int or None   when the CPU's own timer fires next (model ns)
    timer_vector() -> int or None        the timer's vector while its line is asserted

The C side (kernel_c/vm.c, pyl4re.h): `vm_guest_syndrome(k, thread, size, value, reg,
info)` sets the next access's syndrome (`_access(..., reg=, info=)` calls it);
`struct vm_access` carries `reg` (VM_REG_DEFAULT = 0xffffffff: the layout's data
register, what plain guest programs get) and `info` into `arch_vm_exit`, which composes
the architecture's exit from them (arch/arm64/vm.c: SRT, SSE, SF; arch/x86_64/vm.c: the
x86 helper's choice, e.g. the instruction length in `info`). `vm_guest_page(k, thread,
gpa, out)` is the nested entry (pa, rights, page_shift) and `vm_mapping_epoch(k)` the
epoch. Hypercall and halt exits go through `pyl4re.guest._exit(why, imm, what)`.

Changes to this interface are noted here.
"""
