"""L4Re's classic example systems, built in: their programs (written against
pyl4re.l4re) and their ned configurations (`*.cfg`, Lua as L4Re has them), with the
output each is expected to print (`*.expect`, matched by the rules of L4Re's test
harness: pyl4re.testing.match_output).

`rom()` is every built-in module `pyl4re run` puts in the rom: ned, the programs and the
configurations; `configs()` the names of the configurations.
"""
from importlib import resources

from . import calc, ipc, ipcbench


def _files(suffix):
    return {p.name: p.read_bytes() for p in resources.files(__package__).iterdir()
            if p.name.endswith(suffix)}


def configs():
    return sorted(_files(".cfg"))


def expected(config):
    """The expected-output file of a built-in configuration (text), or None."""
    name = config.rsplit("/", 1)[-1].rsplit(".", 1)[0] + ".expect"
    data = _files(".expect").get(name)
    return None if data is None else data.decode()


PROGRAMS = {
    "ex_ipc1": ipc.main,
    "ex_clntsrv-server": calc.server,
    "ex_clntsrv-client": calc.client,
    "ex_ns-server": calc.ns_server,
    "ex_ns-client": calc.ns_client,
    "ipcbench": ipcbench.main,
    "ipcbench_client": ipcbench.client,
    "ipcbench_server": ipcbench.server,
}


def rom(ned_state=None):
    """The built-in rom modules (name -> program or bytes)."""
    from ..ned import ned_main
    out = {"ned": ned_main(ned_state)}
    out.update(PROGRAMS)
    out.update(_files(".cfg"))
    return out
