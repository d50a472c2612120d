"""The control plane's imports go one way: the dispatcher imports the handlers, the handlers
import what they share from `invocation`, and no handler imports the dispatcher."""
import ast
import os
import re

CONTROL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "pyl4re", "control")


def _imports(path):
    """The control-plane modules a file imports (relative imports, anywhere in the file)."""
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {a.name for a in node.names}
    return found


def test_no_handler_imports_the_dispatcher():
    importers = sorted(name for name in os.listdir(CONTROL)
                       if name.endswith(".py") and name != "dispatch.py"
                       and "dispatch" in _imports(os.path.join(CONTROL, name)))
    assert not importers, importers


def test_the_dispatcher_imports_its_handlers_at_the_top():
    assert {"factory", "task", "thread", "gate", "invocation"} <= _imports(
        os.path.join(CONTROL, "dispatch.py"))
    assert "dispatch" not in _imports(os.path.join(CONTROL, "invocation.py"))



USER_LEVEL = [os.path.join(os.path.dirname(CONTROL), d) for d in ("l4re", "vmm")]
REACHES_THE_KERNEL = {
    "l4re/system.py": "the harness's System boots a Kernel; it is no µApp",
    "l4re/crt0.py": "initial_sp: the thread's own entry stack pointer, as C's crt0 reads %sp",
}


def test_user_level_code_reads_machine_constants_not_the_kernel():
    # µApps hold capabilities and their UTCB, never the kernel object: what they need of
    # their machine (page size, UTCB size, KIP address...) comes from pyl4re.arch_consts.
    root = os.path.dirname(CONTROL)
    reaching = sorted(os.path.relpath(os.path.join(d, f), root)
                      for top in USER_LEVEL for d, _, files in os.walk(top)
                      for f in files if f.endswith(".py")
                      and re.search(r"\.kernel\b", open(os.path.join(d, f)).read()))
    assert reaching == sorted(REACHES_THE_KERNEL), reaching
