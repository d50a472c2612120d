"""The command line (pyl4re/__main__.py): every command listed with one line of help,
the demo as default, unknown commands refused with the real choices, the README's names."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

from pyl4re import _core
from pyl4re.__main__ import COMMANDS, main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args):
    return subprocess.run([sys.executable, "-m", "pyl4re", *args], capture_output=True,
                          text=True, cwd=ROOT, env=dict(os.environ, COLUMNS="80"))


def test_help_lists_every_command_on_one_line():
    res = cli("--help")
    assert res.returncode == 0 and res.stderr == ""
    lines = res.stdout.splitlines()
    for name, (text, _, _) in COMMANDS.items():
        mine = [line for line in lines if line.split()[:1] == [name]]
        assert len(mine) == 1, (name, res.stdout)
        assert " ".join(mine[0].split()[1:]) == text     # the whole line, not cut off
    assert {"demo", "bench"} <= set(COMMANDS)


def test_unknown_command_names_the_choices():
    res = cli("selftest")
    assert res.returncode == 2
    choices = ", ".join(f"'{name}'" for name in COMMANDS)
    assert f"invalid choice: 'selftest' (choose from {choices})" in res.stderr


@pytest.mark.parametrize("argv", [[], ["demo"]])
def test_demo_is_the_default_and_boots_every_built_arch(capsys, argv):
    assert main(argv) == 0
    out = capsys.readouterr().out
    for arch in _core.available_arches():
        assert f"arch {arch}" in out
    assert f"ok: {len(_core.available_arches())} architecture(s) booted" in out


def test_each_command_has_its_own_help():
    for name in COMMANDS:
        res = cli(name, "--help")
        assert res.returncode == 0 and f"usage: pyl4re {name}" in res.stdout


def test_the_readme_names_the_commands_as_the_cli_does():
    readme = pathlib.Path(os.path.join(ROOT, "README.md")).read_text()
    named = set(re.findall(r"`pyl4re ([a-z]+)", readme))
    assert named and named <= set(COMMANDS), named - set(COMMANDS)
    assert "`pyl4re demo`" in readme
