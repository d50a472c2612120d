"""Every Python example in README.md and docs/*.md runs as printed, and says what it says.

Each ```python block runs on its own (its imports included) in a fresh namespace, in a
scratch directory. A top-level line `expression  # value` whose comment is a Python
literal, or a literal followed by `: words`, is checked: the expression must equal that
value (comments that are not literals, such as `# virtual time`, are prose). A block for an architecture that was not
built is skipped.
"""
import ast
import glob
import os
import pathlib
import re
import textwrap

import pytest

from pyl4re import _core

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))


def blocks():
    found = []
    for path in FILES:
        text = pathlib.Path(path).read_text()
        for m in re.finditer(r"^( *)```python\n(.*?)^ *```", text, re.S | re.M):
            line = text[:m.start()].count("\n") + 2
            found.append(pytest.param(textwrap.dedent(m.group(2)), id=(
                f"{os.path.relpath(path, ROOT)}:{line}")))
    return found


def _literal(comment):
    """The value a comment states (`3`, `{'a': 1}: words`), or raise ValueError."""
    cuts = [len(comment)] + [m.start() for m in re.finditer(": ", comment)][::-1]
    for cut in cuts:
        try:
            return ast.literal_eval(comment[:cut].strip())
        except (SyntaxError, ValueError):
            continue
    raise ValueError(comment)


def _checked(source):
    """The block with each `expr  # literal` line turned into a check of that value."""
    out = []
    for line in source.splitlines():
        code, sep, comment = line.partition("#")
        if sep and code.strip() and not line[0].isspace():
            try:
                ast.parse(code.strip(), mode="eval")
                expected = _literal(comment.strip())
            except (SyntaxError, ValueError):
                pass
            else:
                line = f"__check({code.strip()}, {expected!r}, {code.strip()!r})"
        out.append(line)
    return "\n".join(out)


def _check(value, expected, what):
    assert value == expected, f"{what} is {value!r}, the document says {expected!r}"


def test_there_are_examples_everywhere():
    names = {p.id.split(":")[0] for p in blocks()}
    assert {"README.md", "docs/execution.md", "docs/pager.md", "docs/interrupts.md",
            "docs/mapdb.md", "docs/console.md", "docs/trace.md"} <= names


def test_values_in_comments_are_checked():
    scope = {"__check": _check}
    exec(compile(_checked("x = 2\nx + 1   # 3"), "t", "exec"), scope)
    with pytest.raises(AssertionError, match="x \\+ 1 is 3, the document says 4"):
        exec(compile(_checked("x = 2\nx + 1   # 4"), "t", "exec"), scope)
    with pytest.raises(AssertionError, match="the document says 5"):
        exec(compile(_checked("x = 2\nx + 1   # 5: words after it"), "t", "exec"), scope)
    exec(compile(_checked("x = 2\nx + 1   # virtual time"), "t", "exec"), scope)


@pytest.mark.parametrize("source", blocks())
def test_example_runs_as_printed(source, tmp_path, monkeypatch, capsys):
    for arch in re.findall(r'arch="(\w+)"', source):
        if arch not in _core.available_arches():
            pytest.skip(f"{arch} not built")
    monkeypatch.chdir(tmp_path)
    scope = {"__check": _check, "__name__": "__docs__"}
    exec(compile(_checked(source), "example", "exec"), scope)


def test_the_layout_table_lists_each_module_once():
    """README's layout table names every module of the package and every document,
    each exactly once."""
    readme = pathlib.Path(os.path.join(ROOT, "README.md")).read_text()
    table = readme.split("## Layout")[1].split("\n## ")[0]
    named = []
    for row in table.splitlines():
        if not row.startswith("| `"):
            continue
        cells = row.split("|")
        first = re.findall(r"`([^`]+)`", cells[1])
        where = os.path.dirname(first[0].rstrip("/"))    # the rest are beside the first
        named.append(first[0])
        named += [os.path.join(where, name) for name in first[1:]]
        if first[0] == "docs/":
            named += [os.path.join("docs", d) for d in re.findall(r"`([\w-]+\.md)`", cells[2])]
    assert len(named) == len(set(named)), sorted(n for n in named if named.count(n) > 1)
    package = {os.path.join("pyl4re", f) for f in os.listdir(os.path.join(ROOT, "pyl4re"))
               if f.endswith(".py") and f != "__init__.py"}
    package |= {os.path.join("pyl4re", d) + "/" for d in os.listdir(os.path.join(ROOT, "pyl4re"))
                if os.path.isfile(os.path.join(ROOT, "pyl4re", d, "__init__.py"))}
    docs = {os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md"))}
    assert package | docs <= set(named), sorted((package | docs) - set(named))
    missing = [n for n in named if "<" not in n and not os.path.exists(os.path.join(ROOT, n))]
    assert not missing, missing


def test_the_readme_pytest_file_passes_on_every_architecture(tmp_path):
    """The README's own test file, run by pytest as a user would (a subprocess that
    imports this checkout's package)."""
    import subprocess
    import sys
    readme = pathlib.Path(os.path.join(ROOT, "README.md")).read_text()
    source = re.search(r"```python\n(# test_adder\.py.*?)```", readme, re.S).group(1)
    (tmp_path / "test_adder.py").write_text(source)
    env = dict(os.environ, PYTHONPATH=ROOT)
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "--rootdir", str(tmp_path), str(tmp_path / "test_adder.py")],
                         capture_output=True, text=True, cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{len(_core.available_arches())} passed" in res.stdout
