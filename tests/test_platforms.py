"""Platform profiles: Kernel(platform=...) charges from a calibrated cost table, and the
ipcbench scenarios in the model give the published cycles."""
import io

import pytest

from pyl4re import Kernel, _core, platforms
from pyl4re.bench import calibration, ipcbench

BUILT = _core.available_arches()
PROFILES = [p for p in platforms.PLATFORMS.values() if p.arch in BUILT]


def test_model_is_the_default_and_keeps_the_arch_table(arch, lib):
    k = Kernel(arch=arch, memory=16 << 20)
    assert k.platform == "model" and k.profile is None
    assert k.costs() == {
        "syscall": lib.COST_SYSCALL_NS, "ipc": lib.COST_IPC_NS, "word": lib.COST_WORD_NS,
        "item": lib.COST_ITEM_NS, "switch": lib.COST_SWITCH_NS, "space": 0,
        "ipi": lib.COST_IPI_NS, "kobj": lib.COST_KOBJ_NS,
        "vcpu_upcall": lib.COST_VCPU_UPCALL_NS, "vcpu_resume": lib.COST_VCPU_RESUME_NS}


def test_bad_platform_names_the_argument(arch):
    with pytest.raises(ValueError, match="platform 'nope' is not known"):
        Kernel(arch=arch, platform="nope")
    with pytest.raises(TypeError, match="platform must be a str"):
        Kernel(arch=arch, platform=5)
    other = next(p for p in platforms.PLATFORMS.values() if p.arch != arch)
    with pytest.raises(ValueError, match=f"is a {other.arch} machine, not {arch}"):
        Kernel(arch=arch, platform=other.name)


def test_names_per_arch():
    assert platforms.names("mips64") == ["model"]        # no published ipcbench figures
    assert "rpi5-el1" in platforms.names("arm64") and "n100" in platforms.names("x86_64")
    assert "n100" not in platforms.names("arm64")
    assert len(platforms.PLATFORMS) == 12                # every row of the published table


def test_set_costs_refuses_a_cost_too_large(arch, ffi, lib):
    k = Kernel(arch=arch, memory=16 << 20)
    before = k.costs()
    table = ffi.new("struct cost_table *", {"syscall_ns": lib.COST_MAX_NS + 1})
    assert lib.kernel_set_costs(k._k, table) == -lib.L4_EINVAL
    assert lib.kernel_set_costs(k._k, ffi.NULL) == -lib.L4_EINVAL
    assert k.costs() == before


@pytest.mark.parametrize("profile", PROFILES, ids=[p.name for p in PROFILES])
def test_ipcbench_gives_the_published_cycles(profile):
    _, rows = calibration.calibrate(profile, rounds=500)
    assert [r["figure"] for r in rows] == ["IPC, one task", "IPC, two tasks", "syscall"]
    for r in rows:
        assert abs(r["deviation"]) <= calibration.TOLERANCE, r
    ns = profile.cost_ns()
    assert Kernel(arch=profile.arch, platform=profile.name).costs() == ns


def test_address_space_switch_is_charged_only_between_tasks(arch):
    model = ipcbench.run(arch, "model", rounds=200)
    per = {s: model[s][0].ns / model[s][0].ops for s in ("1AS", "2AS")}
    assert per["1AS"] == per["2AS"]                      # the model table has no space cost
    for profile in (p for p in PROFILES if p.arch == arch):
        r = ipcbench.run(arch, profile.name, rounds=200)
        one, two = (r[s][0].ns / r[s][0].ops for s in ("1AS", "2AS"))
        assert two - one == pytest.approx(profile.cost_ns()["space"], abs=0.01)
        assert [line.ns for line in r["parallel"]] == [r["1AS"][0].ns] * 2
        break


def test_ipcbench_lines_look_like_ipcbench(arch):
    out = io.StringIO()
    results = ipcbench.run(arch, "model", rounds=100)
    ipcbench.print_lines(results, None, out)
    text = out.getvalue().splitlines()
    assert text[0] == "IPC within one address space:"
    assert text[1].startswith("CPU  0 done 200 IPCs in ") and text[1].endswith(" ns/IPC")
    assert "Syscall benchmark:" in text and text[-1].startswith("CPU  0 done 100 syscalls")
    with pytest.raises(ValueError, match="scenario must be one of"):
        ipcbench.run_scenario("3AS", arch)


def test_bench_platform_cli(capsys):
    from pyl4re.__main__ import main
    name = PROFILES[0].name
    assert main(["bench", "--platform", name]) == 0
    out = capsys.readouterr().out
    assert f"== ipcbench on {name}" in out and "3 of 3 figures within 5%" in out
    assert main(["bench", "--platform", "model"]) == 2
    assert main(["bench", "--platform", "nope"]) == 2
