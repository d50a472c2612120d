"""The hardware-VM case of `pyl4re bench` (listed in ipc_cases.py): a VM exit round trip.
A guest program in a VM makes hypercalls; each is an exit upcall to its VMM µApp, which
advances the guest ip past the instruction and resumes: guest -> VMM -> guest is one op
(docs/vm.md)."""
from .. import entry, guest, vcpu, vm
from ..kernel import Kernel
from ..l4sys import (
    L4_CAP_SHIFT, L4_FPAGE_RW, L4_INVALID_CAP, L4_PROTO_THREAD, L4_VCPU_F_IRQ,
    L4_VCPU_F_USER_MODE, l4_error, l4_factory_create_vm, l4_fpage, l4_msgtag,
    l4_task_add_ku_mem, l4_thread_vcpu_control_ext, l4_thread_vcpu_resume_commit,
    l4_thread_vcpu_resume_start,
)
from .system import System, counter

KU_VA = 0x30000000                     # the VMM's ku-mem for its extended vCPU area
VM_CAP = 0x40 << L4_CAP_SHIFT
GUEST_FLAGS = {"arm64": 0x5}           # arm64: the guest starts at EL1h


def vm_exit_system(arch, rounds):
    """`rounds` hypercall exits of a guest program, each answered by its VMM."""
    k = Kernel(arch=arch, memory=16 << 20, trace_size=0)
    n, done = counter()

    async def guest_main():
        for _ in range(rounds + 1):
            await guest.hypercall(1)

    async def vmm(env):
        assert l4_error(await l4_factory_create_vm(env.factory, VM_CAP)) == 0
        assert l4_error(await l4_task_add_ku_mem(env.task, l4_fpage(KU_VA, 15, L4_FPAGE_RW))) == 0
        assert l4_error(await l4_thread_vcpu_control_ext(env.thread, KU_VA)) == 0
        v, ext = vcpu.state(), vm.ext_state()

        async def resume():
            v.user_task = VM_CAP
            v.saved_state = L4_VCPU_F_USER_MODE | L4_VCPU_F_IRQ
            l4_thread_vcpu_resume_start()
            return l4_error(await l4_thread_vcpu_resume_commit(
                L4_INVALID_CAP, l4_msgtag(L4_PROTO_THREAD, 1, 0, 0)))

        async def on_exit(v):
            if n[0] == rounds:                  # the last exit ends the VMM: not an op
                return "done"
            n[0] += 1
            ext.advance(ext.exit().advance)
            return await resume()

        v.entry_ip, v.entry_sp = entry(on_exit), 0x7fe000
        if arch in GUEST_FLAGS:
            v.flags = GUEST_FLAGS[arch]
        ext.guest_ip = entry(guest_main)
        return await resume()

    handle = k.start_task(vmm, name="vmm")
    return System(k, done, {"vmm": handle})
