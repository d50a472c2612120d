"""The VMM as an L4Re program (started by init through the loader, as ned starts uvmm):
its guest RAM is a dataspace from moe attached by its region map, its console lines go to
a tagged moe log; the guest's console lines and block writes arrive on every arch."""
import pyl4re.l4re as l4re
from pyl4re.guest.virtio_program import program
from pyl4re.vmm.block import Block
from pyl4re.vmm.console import Console
from pyl4re.vmm.vmm import RAM_SEARCH, Device, VmConfig, Vmm

RAM_BASE = {"x86_64": 0x0, "arm64": 0x4000_0000, "mips64": 0x0}


def test_an_l4re_vmm_runs_its_guest_on_dataspace_ram(arch):
    disk = bytearray(8 * 512)
    vmm = Vmm(arch, VmConfig(tag="vm-1", ram_base=RAM_BASE[arch],
                             program=program(["hello from a dataspace"], [(1, b"x" * 512)]),
                             devices=[Device("console", Console(), 0x2000_0000, 1),
                                      Device("block", Block(disk), 0x2000_1000, 2)]))

    async def init(env):
        launcher = l4re.Launcher(env)
        await launcher.start("rom/vmm", log=await env.mem_alloc.create_log("vm-1", "g"))

    system = l4re.boot(arch=arch, init="rom/init", rom={"init": init, "vmm": vmm.main})
    res = system.run(until_ns=1_000_000_000)
    assert res.exited.get("vmm") == ("shutdown", 0), res
    tagged = [f"\x1b[32mvm-1    | {line}\x1b[0m" for line in [
        "hello from a dataspace", "block: 8 sectors, status 0, sector 0 starts ''",
        "block: 1 writes ok", "interrupts taken: yes", "powering off"]]
    assert [line for line in system.log_lines if "vm-1" in line] == tagged
    assert disk[512:1024] == b"x" * 512
    assert vmm.ram >= RAM_SEARCH                   # the region map placed the dataspace
    assert vmm.exits["ram"] >= 1 and vmm.injected >= 1
