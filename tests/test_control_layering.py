"""The control plane's imports go one way: the dispatcher imports the handlers, the handlers
import what they share from `invocation`, and no handler imports the dispatcher."""
import ast
import os

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
