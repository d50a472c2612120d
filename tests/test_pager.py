"""docs/pager.md holds: its examples run on every architecture, its table of page-fault
words is what the kernel sends, and every way a reply can leave a fault unresolved is
named by PageFaultError and k.explain_last_error()."""
import os
import pathlib
import re

import pytest

import pyl4re
from pyl4re import Kernel
from pyl4re.l4sys import (
    L4_ENOMEM, L4_FPAGE_CACHEABLE, L4_FPAGE_RO, L4_FPAGE_RWX, L4_FPAGE_X, L4_IPC_NEVER,
    L4_IPC_SEND_TIMEOUT_0, L4_MAP_ITEM_MAP, l4_fpage, l4_ipc_reply_and_wait, l4_ipc_wait,
    l4_map_control, l4_msgtag, l4_rcv_ep_bind_thread, l4_utcb,
)
from pyl4re.mem import PageFaultError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUIDE = pathlib.Path(os.path.join(ROOT, "docs", "pager.md")).read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", GUIDE, re.S)
POOL = 0x2000000
FAULT = 0x40000000


def run_block(block, arch):
    scope = {}
    exec(compile(re.sub(r'arch="\w+"', f'arch="{arch}"', block), "docs/pager.md", "exec"),
         scope)
    return scope


def test_the_pager_example(arch):
    # The block asserts the arm64 word; on x86-64 it is 0x40000002 (as the guide says).
    block = BLOCKS[0]
    if arch == "x86_64":
        block = block.replace("== 0x40000003", "== 0x40000002")
    scope = run_block(block, arch)
    (word, ip), = scope["faults"]
    assert word & ~7 == FAULT and ip != 0
    assert scope["k"].check_invariants() is None


def test_the_unresolved_example(arch, capsys):
    run_block(BLOCKS[1], arch)
    printed = capsys.readouterr().out
    documented = [line[2:] for line in BLOCKS[1].splitlines() if line.startswith("# ")]
    assert printed.splitlines() == documented


def the_word_table():
    """The guide's table: access -> {arch: MR0 for a fault at 0x1000000}."""
    section = GUIDE.split("So the same access gives different words.")[1].split("\n\n")[1]
    rows = {}
    for line in section.splitlines()[2:]:
        cells = [c.strip(" `") for c in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(("x86_64", "arm64", "mips64"), (int(c, 16) for c in cells[1:])))
    return rows


def start_pager(k, answer):
    """A pager bound to a new gate that answers each fault with answer(u, mr0) -> tag;
    it owns POOL..POOL + 8 pages (touched from sigma0). Returns (gate, the words it saw)."""
    gate, seen = k.create_gate(), []
    ps = 1 << k.arch_info["page_shift"]

    async def pager(env):
        u = l4_utcb()
        await l4_rcv_ep_bind_thread(env.caps["faults"], env.thread, 0x40)
        await pyl4re.mem.write(POOL, bytes(8 * ps))
        tag, label = await l4_ipc_wait(u, L4_IPC_NEVER)
        while True:
            seen.append(int(u.mr[0]))
            tag, label = await l4_ipc_reply_and_wait(u, answer(u, int(u.mr[0])),
                                                     L4_IPC_SEND_TIMEOUT_0)

    k.start_task(pager, name="pager", caps={"faults": gate.svr()}, prio=2)
    return gate, seen


def test_the_page_fault_words_are_the_guides(arch):
    k = Kernel(arch=arch, memory=64 << 20)
    ps = 1 << k.arch_info["page_shift"]

    def read_only(u, mr0):              # map the page R X: a later write faults again
        u.mr[0] = l4_map_control(mr0 & ~(ps - 1), L4_FPAGE_CACHEABLE, L4_MAP_ITEM_MAP)
        u.mr[1] = l4_fpage(POOL, k.arch_info["page_shift"], L4_FPAGE_RO | L4_FPAGE_X).raw
        return l4_msgtag(0 if mr0 & ~7 == 0x1000000 else -L4_ENOMEM, 0, 1, 0)

    gate, seen = start_pager(k, read_only)
    base = 0x1000000

    async def client(env):
        for access in (lambda: pyl4re.mem.read(base, 1), lambda: pyl4re.mem.write(base, b"x"),
                       lambda: pyl4re.mem.write(base + 0x100000, b"x"),
                       lambda: pyl4re.mem.fetch(base + 0x200000)):
            try:
                await access()
            except PageFaultError:
                pass

    k.start_task(client, name="client", pager=gate)
    k.run()
    rows = the_word_table()
    expect = [rows["read, nothing mapped"][arch], rows["write to a read-only page"][arch],
              rows["write, nothing mapped"][arch] + 0x100000,
              rows["instruction fetch, nothing mapped"][arch] + 0x200000]
    assert [hex(w) for w in seen] == [hex(w) for w in expect]


def reply(kind, ps, shift):
    """A pager answer that goes wrong in the named way (for a fault at FAULT)."""
    def answer(u, mr0):
        page = mr0 & ~(ps - 1)
        fpage, base = l4_fpage(POOL, shift, L4_FPAGE_RWX), page
        if kind == "no_item":
            return l4_msgtag(0, 0, 0, 0)
        if kind == "pager_error":
            return l4_msgtag(-L4_ENOMEM, 0, 0, 0)
        if kind == "too_small":
            fpage = l4_fpage(POOL, shift - 1, L4_FPAGE_RWX)
        elif kind == "elsewhere":
            base = page + 16 * ps
        elif kind == "rights":
            fpage = l4_fpage(POOL, shift, L4_FPAGE_RO)
        elif kind == "not_held":
            fpage = l4_fpage(POOL + 64 * ps, shift, L4_FPAGE_RWX)
        u.mr[0] = l4_map_control(base, L4_FPAGE_CACHEABLE, L4_MAP_ITEM_MAP)
        u.mr[1] = fpage.raw
        return l4_msgtag(0, 0, 1, 0)
    return answer


WHY = {
    "no_item": "the pager replied without a map item, and nothing else mapped the page",
    "pager_error": "the pager replied with the error label -12 (out of memory",
    "too_small": "is smaller than a page",
    "elsewhere": "lands elsewhere: the send base (the control word's hot spot) chooses",
    "rights": "gives rights r, the access needs w",
    "not_held": "names memory the pager does not hold with rights w",
}


@pytest.mark.parametrize("kind", sorted(WHY))
def test_a_reply_that_does_not_resolve_says_why(arch, kind):
    k = Kernel(arch=arch, memory=64 << 20)
    shift = k.arch_info["page_shift"]
    gate, seen = start_pager(k, reply(kind, 1 << shift, shift))

    async def client(env):
        try:
            await pyl4re.mem.write(FAULT, b"x")
        except PageFaultError as exc:
            return exc.address, exc.kind, exc.reason

    k.start_task(client, name="client", pager=gate)
    res = k.run()
    address, got, reason = res.exited["client"]
    assert (address, got, len(seen)) == (FAULT, kind, 1)     # one answer: no fault loop
    assert WHY[kind] in reason
    explained = k.explain_last_error()
    assert explained.startswith(f"thread 'client': unresolved page fault at {FAULT:#x} "
                                "(write), pager selector 0x4000")
    assert reason in explained
    k.check_invariants()


def test_sigma0_keeps_the_kip(arch):
    k = Kernel(arch=arch, memory=16 << 20)
    kip = k._lib.kernel_kip(k._k).raw

    async def client(env):
        try:
            await pyl4re.mem.read(kip, 1)            # va == pa of the KIP's frame
        except PageFaultError as exc:
            return exc.kind

    k.start_task(client, name="client")
    assert k.run().exited == {"client": "sigma0_kernel"}
    assert "sigma0 keeps the frame at" in k.explain_last_error()


def test_a_page_taken_away_before_the_retry_faults_again(arch):
    """Fiasco's behaviour where the reply did its part: the pager maps the page, then
    (before the client runs again) revokes it; the retried access faults anew, the pager
    is asked again, and the second answer sticks."""
    from pyl4re.l4sys import (L4_FP_OTHER_SPACES, L4_SYSF_REPLY, L4_SYSF_SEND,
                              L4_INVALID_CAP, l4_ipc, l4_task_unmap)
    k = Kernel(arch=arch, memory=64 << 20)
    shift = k.arch_info["page_shift"]
    gate, seen = k.create_gate(), []

    async def pager(env):
        u = l4_utcb()
        await l4_rcv_ep_bind_thread(env.caps["faults"], env.thread, 0x40)
        await pyl4re.mem.write(POOL, b"pool")
        await l4_ipc_wait(u, L4_IPC_NEVER)
        while True:
            seen.append(int(u.mr[0]))
            u.mr[0] = l4_map_control(FAULT, L4_FPAGE_CACHEABLE, L4_MAP_ITEM_MAP)
            u.mr[1] = l4_fpage(POOL, shift, L4_FPAGE_RWX).raw
            # Reply only (the pager keeps running: it has the higher priority) ...
            await l4_ipc(L4_INVALID_CAP, u, L4_SYSF_REPLY | L4_SYSF_SEND, 0,
                         l4_msgtag(0, 0, 1, 0), L4_IPC_SEND_TIMEOUT_0)
            if len(seen) == 1:                 # ... and the first time take it back
                await l4_task_unmap(env.task, l4_fpage(POOL, shift, L4_FPAGE_RWX),
                                    L4_FP_OTHER_SPACES)
            await l4_ipc_wait(u, L4_IPC_NEVER)

    async def client(env):
        return await pyl4re.mem.read(FAULT, 4)

    k.start_task(pager, name="pager", caps={"faults": gate.svr()}, prio=2)
    k.start_task(client, name="client", pager=gate)
    assert k.run().exited == {"client": b"pool"}
    assert len(seen) == 2 and seen[0] & ~7 == seen[1] & ~7 == FAULT
