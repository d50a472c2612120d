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


# ---- The documents stand on their own: every link and every "§" resolves in the repository.

CITING = ["README.md", "docs", "pyl4re", "kernel_c", "arch", "examples", "tools", "benchmarks",
          "tests"]
KERNEL_ABI, USER_ABI = "docs/abi.md", "docs/l4re-abi.md"
_SECTION = r"§\s?(\d+(?:\.\d+)*)"
# A run of citations with what it is prefixed by: "user-level §1.1, §1.4", "abi.md §6.2",
# "§1–§7"; the prefix names the document for every section of the run.
# Another public standard named before the section ("VirtIO 1.x §2.7") is its own, unchecked.
_RUN = re.compile(r"(?:(l4re-abi\.md|user-level|abi\.md|VirtIO\s+1\.[\dx]+)(?:\s+spec)?\s+)?"
                  + _SECTION + r"((?:\s*(?:,|and|or|–|-|/)\s*§\s?\d+(?:\.\d+)*)*)")


def _headings(doc):
    """The section numbers the headings of a document give ("## §5 ...", "### §5.2 ...")."""
    text = pathlib.Path(os.path.join(ROOT, doc)).read_text()
    return re.findall(r"^#+ §(\d+(?:\.\d+)*)\b", text, re.M)


def citations(text, where):
    """(document, section) for every "§N" in `text` of the file at `where`: the prefix
    "user-level" or "l4re-abi.md" names the user-level ABI, "abi.md" the kernel ABI, and
    a bare one the kernel ABI (inside the user-level ABI itself: that document); a section
    of another standard ("VirtIO 1.x §2.7") is left out."""
    bare = USER_ABI if where == USER_ABI else KERNEL_ABI
    found = []
    for m in _RUN.finditer(text):
        if m.group(1) and m.group(1).startswith("VirtIO"):
            continue
        doc = {"l4re-abi.md": USER_ABI, "user-level": USER_ABI,
               "abi.md": KERNEL_ABI}.get(m.group(1), bare)
        found += [(doc, n) for n in [m.group(2)] + re.findall(_SECTION, m.group(3))]
    return found


def _citing_files():
    for top in CITING:
        path = os.path.join(ROOT, top)
        if os.path.isfile(path):
            yield path
        for base, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs
                       if d not in ("__pycache__", "build") and not d.startswith(".")]
            for name in files:
                if name != os.path.basename(__file__) and not name.endswith(
                        (".so", ".png", ".o", ".pyc")):
                    yield os.path.join(base, name)


def test_the_citation_reader_tells_the_documents_apart():
    assert citations("the gate (§9), slots (user-level §3.2), see user-level §1.1, §1.4 and "
                     "abi.md §6.2; spec §1–§7", "pyl4re/x.py") == [
        (KERNEL_ABI, "9"), (USER_ABI, "3.2"), (USER_ABI, "1.1"), (USER_ABI, "1.4"),
        (KERNEL_ABI, "6.2"), (KERNEL_ABI, "1"), (KERNEL_ABI, "7")]
    assert citations("user-level spec\n§1.5 and §3; §3", "x.py") == [
        (USER_ABI, "1.5"), (USER_ABI, "3"), (KERNEL_ABI, "3")]
    assert citations("VirtIO 1.x §2.1.2 and §2.7, not §5.2", "x.py") == [(KERNEL_ABI, "5.2")]
    assert citations("(§4.3; abi.md §10.1)", USER_ABI) == [
        (USER_ABI, "4.3"), (KERNEL_ABI, "10.1")]


def test_the_abi_documents_have_the_sections_the_code_cites_by():
    kernel = _headings(KERNEL_ABI)
    assert len(kernel) == len(set(kernel)), kernel
    assert {str(n) for n in range(17)} <= set(kernel)
    assert {f"8.{n}" for n in range(12)} <= set(kernel)
    user = _headings(USER_ABI)
    assert len(user) == len(set(user)), user
    assert {str(n) for n in range(11)} <= set(user)


def test_every_section_cited_resolves_to_a_heading():
    """Every "§N" / "§N.M" in the README, the documents and the sources (package, C core,
    arch backends, examples, tools, benchmarks, tests other than this file, whose examples
    are made up) names a heading of docs/abi.md, or of docs/l4re-abi.md for user-level
    citations."""
    headings = {KERNEL_ABI: set(_headings(KERNEL_ABI)), USER_ABI: set(_headings(USER_ABI))}
    unresolved, count = [], 0
    for path in _citing_files():
        try:
            text = pathlib.Path(path).read_text()
        except UnicodeDecodeError:
            continue
        where = os.path.relpath(path, ROOT)
        for doc, section in citations(text, where):
            count += 1
            if section not in headings[doc]:
                unresolved.append(f"{where}: §{section} (in {doc})")
    assert count > 100                      # the sources do cite, and the reader finds them
    assert not unresolved, unresolved


def test_no_link_or_path_points_outside_the_repository():
    """A clone has only the repository: no "../", no sibling spec directory, no local
    absolute paths; links, `docs/...` paths and document names lead to files it holds."""
    for path in FILES:
        text = pathlib.Path(path).read_text()
        where = os.path.relpath(path, ROOT)
        for bad in ("../", "shared/spec", "shared/", "/work/"):
            assert bad not in text, f"{where} refers to {bad!r}"
        for target in re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", text):
            if re.match(r"https?://", target):
                continue
            full = os.path.normpath(os.path.join(os.path.dirname(path), target))
            assert full.startswith(ROOT + os.sep) and os.path.exists(full), f"{where}: {target}"
        for named in re.findall(r"(?<![\w/.-])(docs/[\w.-]+\.md)\b", text):
            assert os.path.exists(os.path.join(ROOT, named)), f"{where}: {named}"
        for named in re.findall(r"(?<![\w/.-])([\w-]+\.md)\b", text):
            assert (os.path.exists(os.path.join(ROOT, "docs", named))
                    or os.path.exists(os.path.join(ROOT, named))), f"{where}: {named}"
