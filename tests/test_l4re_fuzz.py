"""Random messages to every moe server: each gets an answer (or, for log writes, none),
and moe keeps serving everyone afterwards."""
import random

from pyl4re.l4re.protocols import (
    PROTO_DATASPACE, PROTO_FACTORY, PROTO_LOG, PROTO_MEM_ALLOC, PROTO_META, PROTO_NAMESPACE,
    PROTO_PAGE_FAULT, PROTO_RM, PROTO_SCHEDULER,
)
from pyl4re.l4re.rpc import call
from pyl4re.l4sys import L4_IPC_NEVER, l4_ipc_sleep

from l4re_util import run_init

LABELS = [PROTO_DATASPACE, PROTO_NAMESPACE, PROTO_RM, PROTO_MEM_ALLOC, PROTO_FACTORY,
          PROTO_LOG, PROTO_META, PROTO_PAGE_FAULT, PROTO_SCHEDULER, 0, 0x4002, -3]


def test_random_messages_never_stop_moe(arch):
    out = {}

    async def main(env):
        rng = random.Random(15)
        ma = env.mem_alloc
        targets = [(await ma.alloc(8192)).cap, await ma.create_namespace(),
                   await ma.create_rm(), await ma.create_log("fuzz"), ma.cap,
                   await ma.create_scheduler(20, 5)]
        seen = set()
        for i in range(400):
            cap = rng.choice(targets)
            label = rng.choice(LABELS)
            words = [rng.choice([0, 1, 2, 3, 4, 7, 0x4000, 1 << 63, (1 << 64) - 1,
                                 rng.getrandbits(64), rng.getrandbits(12) << 12])
                     for _ in range(rng.randrange(0, 9))]
            data = b"".join(w.to_bytes(8, "little") for w in words)
            if label == PROTO_LOG:                   # writes get no answer: do not wait
                timeout = 0x04000000 | 0x0400       # send never, receive 0
            else:
                timeout = L4_IPC_NEVER
            target = env.cap_alloc.alloc() if rng.random() < 0.5 else None
            r = await call(cap, label, data, rcv_cap=target, timeout=timeout)
            seen.add(r.label)
        ds = await ma.alloc(4096)
        out["after"] = await ds.size()
        out["seen"] = seen
        await l4_ipc_sleep(1)
        return 0

    system, _ = run_init(arch, main, memory=32 << 20)
    assert out["after"] == 4096
    # The refusals were the real ones (and a log write without answer times out: 2003).
    assert {-39, -38, -1001} <= out["seen"]
    assert system.exits == {"t": 0}
