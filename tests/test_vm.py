"""Hardware VMs (docs/vm.md): VM objects and their guest-physical space, the extended vCPU
area of each architecture, guest programs and their VM exits, virtual interrupts, and
every refusal: resuming a VM without an extended vCPU, extended areas that do not fit,
guest state the entry checks reject, memory a VMM does not have, a VM deleted under a
running guest, unmapped and read-only guest memory, a guest that never exits."""
import pytest

import pyl4re
from pyl4re import CapIndex, Kernel, guest
from pyl4re.l4re.moe.memory import SIGMA0_REQ_ANY, sigma0_request
from pyl4re.l4sys import (
    L4_CAP_SHIFT, L4_EINVAL, L4_ENOENT, L4_FP_OTHER_SPACES, L4_FPAGE_RO, L4_FPAGE_RW,
    L4_FPAGE_RWX, L4_INVALID_CAP, L4_PROTO_THREAD, L4_VCPU_F_FPU_ENABLED, L4_VCPU_F_IRQ,
    L4_VCPU_F_USER_MODE, l4_error, l4_factory_create_irq, l4_factory_create_vm, l4_fpage,
    l4_icu_bind, l4_irq_unmask, l4_map_control, l4_map_obj_control, l4_msgtag, l4_obj_fpage,
    l4_rcv_ep_bind_thread, l4_task_add_ku_mem, l4_task_delete_obj, l4_task_map,
    l4_task_unmap, l4_thread_vcpu_control, l4_thread_vcpu_control_ext,
    l4_thread_vcpu_resume_commit, l4_thread_vcpu_resume_start, l4_utcb,
)
from pyl4re.control import vspace

VM_SLOT, TASK_SLOT, IRQ_SLOT = 0x40, 0x41, 0x42
VM, TASK, IRQ = (s << L4_CAP_SHIFT for s in (VM_SLOT, TASK_SLOT, IRQ_SLOT))
KU_VA = 0x30000000
RAM_ORDER = 20                          # 1 MiB of guest RAM at guest-physical 0
MMIO_GPA = 0x10000000
TIMER_LINE, TIMER_LABEL = 9, 0x90
# What each architecture needs to start a guest: PSTATE EL1h (arm64), guest Status IE | IM
# (mips64), and the vector a test injects.
GUEST_FLAGS = {"x86_64": None, "arm64": 0x5, "mips64": None}
GUEST_FIELDS = {"x86_64": {}, "arm64": {}, "mips64": {0x40: 0xFC01}}
VECTOR = {"x86_64": 0x30, "arm64": 27, "mips64": 3}


class Vmm:
    """What a test's VMM µApp holds: the state area, the extended area, its guest RAM."""

    def __init__(self, env, page, ram):
        self.env, self.page, self.ram = env, page, ram
        self.v, self.ext = pyl4re.vcpu.state(), pyl4re.vm.ext_state()

    async def resume(self, items=(), rights=L4_FPAGE_RW, task=VM, saved=None):
        """Resume into the VM (items: (gpa, own page) mappings); l4_error if refused."""
        v = self.v
        v.user_task = task
        v.saved_state = (L4_VCPU_F_USER_MODE | L4_VCPU_F_IRQ | L4_VCPU_F_FPU_ENABLED
                         if saved is None else saved)
        l4_thread_vcpu_resume_start()
        u = l4_utcb()
        for n, (gpa, own) in enumerate(items):
            u.mr[1 + 2 * n] = l4_map_control(gpa, 0, 0)
            u.mr[2 + 2 * n] = l4_fpage(own, self.page.bit_length() - 1, rights).raw
        tag = l4_msgtag(L4_PROTO_THREAD, 1, len(items), 0)
        return l4_error(await l4_thread_vcpu_resume_commit(L4_INVALID_CAP, tag))


async def setup(env, arch, page, guest_main=None, ext=True, timer=False, ram=True):
    """A VM with 1 MiB of our RAM at guest-physical 0, an extended vCPU (this thread), the
    guest's first state; `timer`: an Irq bound to us on TIMER_LINE."""
    err, base = await sigma0_request(SIGMA0_REQ_ANY, l4_fpage(0, RAM_ORDER, 0).raw)
    assert err == 0
    assert l4_error(await l4_factory_create_vm(env.factory, VM)) == 0
    if ram:
        assert l4_error(await l4_task_map(VM, env.task, l4_fpage(base, RAM_ORDER, L4_FPAGE_RWX),
                                          l4_map_control(0, 0, 0))) == 0
    assert l4_error(await l4_task_add_ku_mem(env.task, l4_fpage(KU_VA, 15, L4_FPAGE_RW))) == 0
    if ext:
        assert l4_error(await l4_thread_vcpu_control_ext(env.thread, KU_VA)) == 0
    else:
        assert l4_error(await l4_thread_vcpu_control(env.thread, KU_VA)) == 0
        return None
    if timer:
        assert l4_error(await l4_factory_create_irq(env.factory, IRQ)) == 0
        assert l4_error(await l4_rcv_ep_bind_thread(IRQ, env.thread, TIMER_LABEL)) == 0
        assert l4_error(await l4_icu_bind(env.icu, TIMER_LINE, IRQ)) == 0
    m = Vmm(env, page, base)
    for field, value in GUEST_FIELDS[arch].items():
        m.ext.set(field, value)
    if GUEST_FLAGS[arch] is not None:
        m.v.flags = GUEST_FLAGS[arch]
    if guest_main is not None:
        m.ext.guest_ip = pyl4re.entry(guest_main)
    return m


def run_vm(arch, guest_main, on_exit, timer_ns=None, before=None, at=None):
    """Runs a VMM µApp: set-up, then resume into the guest; every exit calls
    `await on_exit(vmm, exit)`, which resumes again or returns the VMM's result.
    `before(vmm)`: more set-up; `at`: (ns, fn(handle)) a harness event. Returns (kernel,
    result, handle)."""
    k = Kernel(arch=arch, memory=32 << 20, trace_size=1 << 14)
    page = 1 << k.arch_info["page_shift"]

    async def vmm(env):
        m = await setup(env, arch, page, guest_main, timer=timer_ns is not None)

        async def entry(v):
            return await on_exit(m, m.ext.exit())
        m.v.entry_ip = pyl4re.entry(entry)
        m.v.entry_sp = 0x7fe000
        if before is not None:
            result = await before(m)
            if result is not None:
                return result
        return ("refused", await m.resume())

    h = k.start_task(vmm, name="vmm")
    if timer_ns is not None:
        line = k.hw.irq_line(TIMER_LINE)

        def tick(at):
            if at < 200 * timer_ns:
                line.pulse()
                k.hw.at(at + timer_ns, lambda: tick(at + timer_ns))
        k.hw.at(timer_ns, lambda: tick(timer_ns))
    if at is not None:
        k.hw.at(at[0], lambda: at[1](h))
    return k, k.run(), h


def vm_of(h):
    return h.task.object_at(CapIndex(VM_SLOT))


# ---- VM objects and their guest-physical space ------------------------------------------

def test_a_vm_is_a_task_with_a_guest_physical_space_charged_with_its_root(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    before = k.root_factory.quota.used

    async def main(env):
        return l4_error(await l4_factory_create_vm(env.factory, VM))

    h = k.start_task(main, name="main")
    assert k.run().exited["main"] == 0
    vm = vm_of(h)
    assert pyl4re.vm.is_vm(k, vm.id) and not pyl4re.vm.is_vm(k, h.task.id)
    assert vspace.root(k, vm)[1] == vspace.KIND_VM        # the nested table exists already
    assert vm.pt_root is not None and k.root_factory.quota.used > before


def test_vm_quota_is_a_task_plus_its_root_and_comes_back(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    f = k.root_factory
    used = f.quota.used
    vm = f.create_vm(k.root_task, CapIndex(40))
    assert f.quota.used == used + k._lib.KOBJ_SIZE_TASK + 4096
    assert pyl4re.vm.is_vm(k, vm.id) and vm.mappings() == []
    k.root_task.delete(CapIndex(40))
    assert f.quota.used == used


def test_vm_creation_out_of_quota_leaves_nothing(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    child = k.root_factory.create_factory(k.root_task, CapIndex(30),
                                          limit=k._lib.KOBJ_SIZE_TASK + 4095)
    from pyl4re.control import factory as factory_ctl
    alive = k.objects_alive
    assert factory_ctl.create(k, child.id, k._lib.L4_PROTO_VM, k.root_task.id, 40) \
        == -k._lib.L4_ENOMEM
    assert k.objects_alive == alive and child.quota.used == 0
    assert k.root_task.cap(CapIndex(40)) is None


def test_task_map_into_a_vm_and_recursive_unmap(arch):
    k = Kernel(arch=arch, memory=32 << 20)
    page = 1 << k.arch_info["page_shift"]
    seen = {}

    async def main(env):
        err, base = await sigma0_request(SIGMA0_REQ_ANY, l4_fpage(0, RAM_ORDER, 0).raw)
        assert l4_error(await l4_factory_create_vm(env.factory, VM)) == 0
        assert l4_error(await l4_task_map(VM, env.task, l4_fpage(base, RAM_ORDER, L4_FPAGE_RW),
                                          l4_map_control(0x100000, 0, 0))) == 0
        seen["base"] = base
        seen["mapped"] = vm_of(h).translate(0x100000 + 3 * page + 8)
        # Taking our memory away takes it from the VM too (mapdb, unchanged).
        await l4_task_unmap(env.task, l4_fpage(base, RAM_ORDER, L4_FPAGE_RWX),
                            L4_FP_OTHER_SPACES)
        seen["after"] = vm_of(h).translate(0x100000)
        return 0

    h = k.start_task(main, name="main")
    assert k.run().exited["main"] == 0
    pa, size, rights = seen["mapped"]
    assert pa.value == seen["base"] + 3 * page + 8 and rights == L4_FPAGE_RW
    assert seen["after"] is None


# ---- guests and exits -------------------------------------------------------------------

def test_guest_writes_ram_and_its_hypercall_returns_the_vmm_result(arch):
    got = {}

    async def main():
        await guest.write(0x2000, b"hello guest")
        got["read"] = await guest.read(0x2000, 11)
        got["sum"] = await guest.hypercall(7, 40, 2)
        await guest.hypercall(99)

    async def on_exit(m, e):
        assert e.kind == "hypercall"
        regs = m.ext.layout["hc_regs"]
        number = int(m.v.r[regs[0]])
        if number == 99:
            return "done"
        m.v.r[regs[0]] = int(m.v.r[regs[1]]) + int(m.v.r[regs[2]])
        m.ext.advance(e.advance)
        return ("refused", await m.resume())

    k, res, h = run_vm(arch, main, on_exit)
    assert res.exited["vmm"] == "done"
    assert got == {"read": b"hello guest", "sum": 42}
    # The bytes are in the VMM's RAM at the guest-physical offset: the nested table's walk.
    ram = vm_of(h).translate(0x2000)[0].value
    assert bytes(k.physmem[ram:ram + 11]) == b"hello guest"


def _vmx_field_offset(k, area_pa, field):
    """The software VMCS offset of `field`, computed from the offset table in memory as
    l4sys' l4_vm_vmx_field_ptr does (l4re-core __vm-vmx.h)."""
    vmcs = area_pa + 0x400
    mem = k.physmem
    width, group, index = (field >> 13) & 3, (field >> 10) & 3, field & 0x3fe
    offsets = int(mem[vmcs + 0x20 + 4 * width + group])
    limit = int(mem[vmcs + 0x30 + 4 * width + group])
    shift = int(mem[vmcs + 0x40 + width])
    off = index << shift
    assert off < limit * 64
    return vmcs + offsets * 64 + off, {0: 2, 1: 8, 2: 4, 3: 8}[width]


def _raw(k, pa, n):
    return int.from_bytes(bytes(k.physmem[pa:pa + n]), "little")


# What each architecture's exit looks like in the area, from the manuals (not from C):
# x86 VMX exit reasons (SDM vol. 3D appendix C), ARM ESR_EL2 classes, MIPS causes.
def _exit_code(k, m_area, kind):
    arch = k.arch
    if arch == "x86_64":
        pa, n = _vmx_field_offset(k, m_area, 0x4402)
        return _raw(k, pa, n)
    regs = m_area + 0x40
    err_word = {"arm64": 33, "mips64": 37}[arch]
    return _raw(k, regs + 8 * err_word, 8)


EXPECT = {
    "x86_64": {"hypercall": 18, "halt": 12, "stage2": 48, "irq": 1},
    "arm64": {"hypercall": 0x16, "halt": 0x01, "stage2": 0x24, "irq": 0x3f},
    "mips64": {"hypercall": 27, "halt": 27, "stage2": 3, "irq": 0x100 >> 2},
}


def _code_class(arch, code):
    if arch == "x86_64":
        return code
    if arch == "arm64":
        return code >> 26
    return code >> 2 if code != 0x100 else 0x100 >> 2


def test_exit_information_is_in_the_architectures_layout(arch):
    codes = []

    async def main():
        await guest.hypercall(1, imm=5)
        await guest.wait_for_interrupt()
        await guest.store(MMIO_GPA, 0xAB, 2)
        await guest.hypercall(99)

    async def on_exit(m, e):
        area = pyl4re.vcpu.info(m.v.kernel, m.ext.tid).state.raw
        codes.append((e.kind, _code_class(arch, _exit_code(m.v.kernel, area, e.kind)), e))
        if e.kind == "hypercall" and int(m.v.r[m.ext.layout["hc_regs"][0]]) == 99:
            return "done"
        m.ext.advance(e.advance)
        return ("refused", await m.resume())

    k, res, h = run_vm(arch, main, on_exit)
    assert res.exited["vmm"] == "done"
    kinds = [c[0] for c in codes]
    assert kinds == ["hypercall", "halt", "stage2", "hypercall"]
    for kind, cls, e in codes:
        assert cls == EXPECT[arch][kind], (kind, hex(cls))
    mmio = codes[2][2]
    assert (mmio.gpa, mmio.size, mmio.write, mmio.value) == (MMIO_GPA, 2, True, 0xAB)
    assert mmio.reg == pyl4re.vm.layout(k)["data_reg"]
    if arch == "arm64":
        assert codes[0][2].imm == 5 and codes[0][2].advance == 0    # ELR past the HVC
    if arch == "x86_64":
        assert codes[0][2].advance == 3 and codes[1][2].advance == 1  # VMCALL, HLT lengths
    if arch == "mips64":
        assert codes[0][2].imm == 5


def test_mmio_load_returns_what_the_vmm_put_in_the_register(arch):
    got = []

    async def main():
        for n in range(3):
            got.append(await guest.load(MMIO_GPA + 4 * n, 4))
        await guest.hypercall(99)

    async def on_exit(m, e):
        if e.kind == "hypercall":
            return "done"
        assert e.kind == "stage2" and not e.write and e.size == 4
        m.ext.complete_load(e, 0x1000 + e.gpa - MMIO_GPA)
        return ("refused", await m.resume())

    assert run_vm(arch, main, on_exit)[1].exited["vmm"] == "done"
    assert got == [0x1000, 0x1004, 0x1008]


def test_a_stage2_miss_resolved_by_mapping_is_made_again(arch):
    got = {}
    lazy = 0x800000

    async def main():
        await guest.store(lazy + 16, 77)
        got["value"] = await guest.load(lazy + 16)
        await guest.hypercall(99)

    async def on_exit(m, e):
        if e.kind == "hypercall":
            return "done"
        assert e.kind == "stage2" and e.gpa == lazy + 16 and e.write
        got["exits"] = got.get("exits", 0) + 1
        own = m.ram + 0x80000
        return ("refused", await m.resume([(e.gpa & ~(m.page - 1), own)]))

    k, res, h = run_vm(arch, main, on_exit)
    assert res.exited["vmm"] == "done"
    assert got["value"] == 77 and got["exits"] == 1
    pa = vm_of(h).translate(lazy + 16)[0].value
    assert _raw(k, pa, 8) == 77


def test_read_only_guest_memory_is_a_permission_exit(arch):
    seen = []

    async def before(m):
        # Guest-physical 0x400000: our RAM page, read-only.
        assert l4_error(await l4_task_map(VM, m.env.task, l4_fpage(m.ram, m.page.bit_length() - 1,
                                                                   L4_FPAGE_RO),
                                          l4_map_control(0x400000, 0, 0))) == 0
        return None

    async def main_ro():
        await guest.store(0x400000, 5)

    async def on_exit(m, e):
        seen.append(e)
        return "stop"

    k, res, h = run_vm(arch, main_ro, on_exit, before=before)
    e = seen[0]
    assert e.kind == "stage2" and e.write and e.gpa == 0x400000
    code = e.code
    if arch == "x86_64":                                                   # EPT violation
        assert code == 48 and not e.exec
    if arch == "arm64":
        assert code >> 26 == 0x24 and code & 0x3f == 0x0f                 # permission fault
    if arch == "mips64":
        assert (code >> 2) & 0x1f == 1                                     # TLB modified
    assert vm_of(h).translate(0x400000)[2] == L4_FPAGE_RO                  # unchanged


def test_injected_interrupt_runs_the_guest_handler(arch):
    got = []

    async def handler(vector):
        got.append(vector)
        await guest.hypercall(50, vector)            # acknowledge (withdraws a MIPS level)

    async def main():
        guest.on_interrupt(handler)
        for _ in range(3):
            await guest.wait_for_interrupt()
        await guest.hypercall(99)

    async def on_exit(m, e):
        if e.kind == "halt":
            m.ext.inject(VECTOR[arch])
        elif e.kind == "hypercall":
            number = int(m.v.r[m.ext.layout["hc_regs"][0]])
            if number == 99:
                return "done"
            m.ext.withdraw(int(m.v.r[m.ext.layout["hc_regs"][1]]))
        m.ext.advance(e.advance)
        return ("refused", await m.resume())

    assert run_vm(arch, main, on_exit)[1].exited["vmm"] == "done"
    assert got == [VECTOR[arch]] * 3


def test_vm_entries_and_exits_are_traced(arch):
    async def main():
        await guest.hypercall(99)

    async def on_exit(m, e):
        return "done"

    k, res, h = run_vm(arch, main, on_exit)
    recs = [r for r in pyl4re.trace.records(k) if r.kind in ("vm_entry", "vm_exit")]
    assert [r.kind for r in recs] == ["vm_entry", "vm_exit"]
    assert recs[0].fields["vm"] == vm_of(h).id
    assert recs[1].fields["reason"] == "hypercall"


# ---- bad input --------------------------------------------------------------------------

def test_resuming_a_vm_without_an_extended_vcpu_is_refused(arch):
    k = Kernel(arch=arch, memory=32 << 20)
    page = 1 << k.arch_info["page_shift"]

    async def vmm(env):
        await setup(env, arch, page, ext=False)
        v = pyl4re.vcpu.state()
        v.ip = pyl4re.entry(_never)
        v.user_task = VM
        v.saved_state = L4_VCPU_F_USER_MODE | L4_VCPU_F_IRQ
        l4_thread_vcpu_resume_start()
        err = l4_error(await l4_thread_vcpu_resume_commit(L4_INVALID_CAP,
                                                          l4_msgtag(L4_PROTO_THREAD, 1, 0, 0)))
        return err, k.explain_last_error(), pyl4re.vcpu.info(k, env_thread(k)).user_mode

    k.start_task(vmm, name="vmm")
    err, why, user_mode = k.run().exited["vmm"]
    assert err == -L4_EINVAL and "extended" in why and not user_mode


async def _never():
    raise AssertionError("the guest must not run")


def env_thread(k):
    return next(iter(k._loop.threads))


@pytest.mark.parametrize("case", ["misaligned", "last page", "outside ku-mem"])
def test_extended_area_that_does_not_fit_is_refused(arch, case):
    k = Kernel(arch=arch, memory=32 << 20)
    ext_size = pyl4re.vcpu.layout(k)["ext_size"]

    async def main(env):
        assert l4_error(await l4_task_add_ku_mem(env.task, l4_fpage(KU_VA, 15, L4_FPAGE_RW))) == 0
        va = {"misaligned": KU_VA + 0x80,                    # 128-byte aligned, not 4 KiB
              "last page": KU_VA + 0x8000 - 0x1000,          # the area must end inside
              "outside ku-mem": 0x5000000}[case]
        return l4_error(await l4_thread_vcpu_control_ext(env.thread, va))

    k.start_task(main, name="main")
    fits = case == "last page" and ext_size <= 0x1000        # x86: one 4 KiB page; MIPS: 16
    assert k.run().exited["main"] == (0 if fits else -L4_EINVAL)
    info = pyl4re.vcpu.info(k, env_thread(k))
    assert bool(info.state.raw) == fits and bool(info.ext) == fits     # else nothing changed


# Guest state the architecture's entry checks reject: (field id, value) pairs or PSTATE.
BAD_STATE = {
    "x86_64": [("CR0.PG without CR0.PE", {0x6800: 0x80000020}),
               ("CR0.NE clear", {0x6800: 0x0}),
               ("EFER.LMA outside IA-32e mode", {0x2806: 0x500}),
               ("IA-32e mode without paging", {0x4012: 1 << 9}),
               ("RFLAGS bit 1 clear", {0x6820: 0x0})],
    "arm64": [("PSTATE EL2h", "flags:0x9"), ("PSTATE AArch32", "flags:0x10")],
    "mips64": [],
}


@pytest.mark.parametrize("arch,name,bad", [
    pytest.param(a, n, b, id=f"{a}-{n}") for a in pyl4re.available_arches()
    for n, b in BAD_STATE[a]])
def test_guest_state_that_fails_the_entry_checks_is_refused(arch, name, bad):
    async def before(m):
        if isinstance(bad, str):
            m.v.flags = int(bad.split(":")[1], 16)
        else:
            for field, value in bad.items():
                m.ext.set(field, value)
        err = await m.resume()
        reason = m.ext.get(0x4402) if arch == "x86_64" else None
        return ("refused", err, reason, m.v.kernel.explain_last_error())

    k, res, h = run_vm(arch, _never, None, before=before)
    _, err, reason, why = res.exited["vmm"]
    assert err == -L4_EINVAL and "vm entry" in why
    if arch == "x86_64":
        assert reason == 0x80000021              # VM-entry failure: invalid guest state


def test_mips_entry_keeps_the_guest_cp0_bit(arch):
    if arch != "mips64":
        pytest.skip("MIPS VZ GuestCtl0")
    seen = {}

    async def main():
        await guest.hypercall(99)

    async def before(m):
        m.ext.set(0x38, 0)                       # GuestCtl0 without CP0
        return None

    async def on_exit(m, e):
        seen["ctl0"] = m.ext.get(0x38)
        return "done"

    assert run_vm(arch, main, on_exit, before=before)[1].exited["vmm"] == "done"
    assert seen["ctl0"] & (1 << 28)


def test_mapping_memory_the_vmm_does_not_have_maps_nothing(arch):
    k = Kernel(arch=arch, memory=32 << 20)

    async def main(env):
        assert l4_error(await l4_factory_create_vm(env.factory, VM)) == 0
        # 8 MiB..: RAM sigma0 never gave us; the KIP page: read-only kernel memory we have
        # only with R; a VM mapped "into itself" (memory it does not have either).
        a = l4_error(await l4_task_map(VM, env.task, l4_fpage(0x800000, 16, L4_FPAGE_RW),
                                       l4_map_control(0x100000, 0, 0)))
        b = l4_error(await l4_task_map(VM, VM, l4_fpage(0x0, 16, L4_FPAGE_RW),
                                       l4_map_control(0x200000, 0, 0)))
        return a, b

    h = k.start_task(main, name="main")
    assert k.run().exited["main"] == (0, 0)             # Fiasco: map items map what is there
    vm = vm_of(h)
    assert vm.translate(0x100000) is None and vm.translate(0x200000) is None
    assert vm.mappings() == []


def test_kip_is_not_in_a_guests_space(arch):
    seen = []

    async def main():
        await guest.load(0xbff00000)

    async def on_exit(m, e):
        seen.append(e)
        return "stop"

    k, res, h = run_vm(arch, main, on_exit)
    assert seen[0].kind == "stage2" and seen[0].gpa == 0xbff00000 and not seen[0].write
    assert vm_of(h).translate(0xbff00000) is None


def test_a_vm_deleted_while_its_guest_runs(arch):
    events = []

    async def main():
        await guest.hypercall(1)
        await guest.store(0x1000, 1)              # the VM is gone: nothing is mapped
        await guest.hypercall(99)

    async def on_exit(m, e):
        events.append(e.kind)
        if len(events) == 1:
            assert l4_error(await l4_task_delete_obj(m.env.task, VM)) == 0
            m.ext.advance(e.advance)
            err = await m.resume()               # the cached VM died: -L4_ENOENT
            return ("after delete", err)
        return "unexpected"

    k, res, h = run_vm(arch, main, on_exit)
    assert res.exited["vmm"] == ("after delete", -L4_ENOENT)
    assert events == ["hypercall"]


def test_a_vm_deleted_under_a_running_guest_faults_its_next_access(arch):
    events = []

    async def main():
        await pyl4re.compute(2_000_000)          # the VM goes away meanwhile
        await guest.store(0x1000, 1)

    async def on_exit(m, e):
        events.append((e.kind, e.gpa, e.write))
        return ("resume", await m.resume())      # into a VM that is gone

    k, res, h = run_vm(arch, main, on_exit, at=(1_000_000, lambda h: h.task.delete(
        CapIndex(VM_SLOT))))
    assert events == [("stage2", 0x1000, True)]   # nothing is mapped: a stage-2 miss
    assert res.exited["vmm"] == ("resume", -L4_ENOENT)


def test_a_guest_looping_without_exits_is_bounded_by_the_timer(arch):
    ticks = []

    async def main():
        while True:
            await pyl4re.compute(10_000)

    async def on_exit(m, e):
        assert e.kind == "irq" and m.v.i.label == TIMER_LABEL
        ticks.append(m.v.kernel.now_ns if hasattr(m.v.kernel, "now_ns") else 0)
        await l4_irq_unmask(IRQ)
        if len(ticks) == 5:
            return "enough"
        return ("refused", await m.resume())

    k, res, h = run_vm(arch, main, on_exit, timer_ns=30_000)
    assert res.exited["vmm"] == "enough" and len(ticks) == 5


def test_a_guest_program_that_raises_is_a_fault_exit(arch):
    seen = []

    async def main():
        raise RuntimeError("guest bug")

    async def on_exit(m, e):
        seen.append(e)
        return "stopped"

    assert run_vm(arch, main, on_exit)[1].exited["vmm"] == "stopped"
    assert seen[0].kind == "fault"


# ---- harness-level bad input --------------------------------------------------------------

def test_guest_calls_outside_a_vm_and_bad_arguments(arch):
    k = Kernel(arch=arch, memory=16 << 20)

    async def main(env):
        out = []
        for call in (guest.hypercall(1), guest.wait_for_interrupt(), guest.load(0x1000)):
            try:
                await call
            except RuntimeError as exc:
                out.append("no guest" in str(exc) or "runs no guest" in str(exc))
        for bad in (lambda: guest.load("x"), lambda: guest.load(0, 3),
                    lambda: guest.store(0, 1 << 70, 8), lambda: guest.hypercall(1, 2, 3, 4, 5),
                    lambda: guest.hypercall(1, imm=1 << 20), lambda: guest.read(0, -1)):
            try:
                await bad()
            except (TypeError, ValueError):
                out.append(True)
        return out

    k.start_task(main, name="main")
    assert k.run().exited["main"] == [True] * 9


def test_ext_state_refuses_bad_ids_values_and_vectors(arch):
    k = Kernel(arch=arch, memory=32 << 20)
    page = 1 << k.arch_info["page_shift"]

    async def main(env):
        m = await setup(env, arch, page)
        out = []
        for fn in (lambda: m.ext.get(0xFFFFF), lambda: m.ext.get("x"),
                   lambda: m.ext.set(0x10 if arch != "x86_64" else 0x681E, -1),
                   lambda: m.ext.inject(1 << 30), lambda: m.ext.inject(True)):
            try:
                fn()
            except (TypeError, ValueError):
                out.append(True)
        return out

    k.start_task(main, name="main")
    assert k.run().exited["main"] == [True] * 5
    with pytest.raises(ValueError):
        pyl4re.vm.ExtState(k, k.root_task.id)             # no thread, no extended vCPU
    with pytest.raises(ValueError):
        pyl4re.vm.is_vm(k, 0)


def test_c_boundary_refuses_bad_threads(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    ffi, lib = k._ffi, k._lib
    out = ffi.new("struct vm_exit_desc *")
    value = ffi.new("uint64_t *")
    tid = k.root_task.id
    assert lib.vm_exit_decode(k._k, [tid], out) == -L4_EINVAL
    assert lib.vm_exit_decode(k._k, [0], ffi.NULL) == -L4_EINVAL
    assert lib.vm_field(k._k, [tid], 0, 0, value) == -L4_EINVAL
    assert lib.vm_inject(k._k, [tid], 1, 1) == -L4_EINVAL
    assert lib.vm_guest_exit(k._k, [tid], lib.VM_EXIT_HALT, 0) == -L4_EINVAL
    assert lib.vm_guest_operand(k._k, [tid], 3, 0) == -L4_EINVAL
    assert lib.vm_take_injection(k._k, [tid]) == -1
    assert lib.task_is_vm(k._k, [0]) == -L4_EINVAL
    assert lib.vcpu_control_ext(k._k, [0], [0x1000]) == -L4_EINVAL


def test_a_vm_capability_mapped_into_the_vm_itself(arch):
    # Its own capability in its capability space, as for any task; deleting ours leaves
    # the kernel consistent and gives everything back when the kernel goes.
    k = Kernel(arch=arch, memory=16 << 20)

    async def main(env):
        assert l4_error(await l4_factory_create_vm(env.factory, VM)) == 0
        a = l4_error(await l4_task_map(VM, env.task, l4_obj_fpage(VM, 0, 0xF),
                                       l4_map_obj_control(0x10 << L4_CAP_SHIFT, 0)))
        b = l4_error(await l4_task_delete_obj(env.task, VM))
        return a, b

    k.start_task(main, name="main")
    assert k.run().exited["main"] == (0, 0)
    k.check_invariants()


def test_a_plain_area_after_an_extended_one_is_no_extended_vcpu(arch):
    # The new area has no room for the VM state: the vCPU is plain again, and a VM
    # refuses it.
    k = Kernel(arch=arch, memory=32 << 20)
    page = 1 << k.arch_info["page_shift"]

    async def vmm(env):
        m = await setup(env, arch, page, _never)
        area = (env.utcb_area.raw & ~0xFFF) + 0x1000
        assert l4_error(await l4_thread_vcpu_control(env.thread, area)) == 0
        m.v = pyl4re.vcpu.state()
        return await m.resume(), bool(pyl4re.vcpu.info(k, env_thread(k)).ext)

    k.start_task(vmm, name="vmm")
    assert k.run().exited["vmm"] == (-L4_EINVAL, False)
