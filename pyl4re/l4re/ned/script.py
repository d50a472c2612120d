"""ned's Lua interpreter: a real Lua (lupa, Lua 5.5) with the `L4` module (l4.lua) and
the standard libraries L4Re's ned opens (base, package, table, string, math, utf8,
coroutine, debug; no io, no os, nothing of Python).

A script and every exit handler run as Lua coroutines. A coroutine runs until it asks
for an L4 operation: then it yields the request (a name and arguments) and `step` hands
it to the ned µApp, which performs the real invocation and resumes the coroutine with
(true, results...) or (false, message, code). Lua itself never calls into Python, so
nothing the script does can bypass the µApp or reach the host.
"""
from importlib import resources

import lupa
from lupa import LuaRuntime

LUA_VERSION = None

# require() as ned's: "L4" is the module; other names are looked up along package.path
# ("rom/?.lua" and the like) through ned's name spaces, read by a request, loaded as Lua.
_PRELUDE = """
local L4 = ...
package.loaded.L4 = L4
package.path = "rom/?.lua;rom/?"
package.cpath = ""
package.loadlib = nil
package.searchers = nil
print = L4.__print
dofile, loadfile = nil, nil
function require(name)
  local have = package.loaded[name]
  if have ~= nil then return have end
  if type(name) ~= "string" then L4.__fail("require needs a module name", -22) end
  local tried = {}
  for template in package.path:gmatch("[^;]+") do
    local path = template:gsub("%?", (name:gsub("%.", "/")))
    local text = L4.__read(path)
    if text ~= nil then
      local chunk, err = load(text, "@" .. path)
      if not chunk then error(err, 0) end
      local mod = chunk(name, path)
      if mod == nil then mod = true end
      package.loaded[name] = mod
      return mod
    end
    tried[#tried + 1] = "no file '" .. path .. "'"
  end
  L4.__fail("module '" .. name .. "' not found: " .. table.concat(tried, ", "), -2)
end
"""


class LuaState:
    """One Lua state of ned: `L4` loaded, `new_coroutine(fn or chunk, *args)`, `step`."""

    def __init__(self):
        self.lua = LuaRuntime(register_eval=False, register_builtins=False,
                              unpack_returned_tuples=True)
        g = self.lua.globals()
        for name in ("python", "io", "os"):
            g[name] = None
        load = g.load
        text = resources.files(__package__).joinpath("l4.lua").read_text()
        self._load = load
        self.L4 = self.load(text, "=l4.lua")()
        self.load(_PRELUDE, "=ned")(self.L4)
        self._table = self.lua.table_from

    @property
    def version(self):
        return self.lua.globals()._VERSION

    def load(self, text, chunkname):
        """A Lua function of the chunk, or raises SyntaxError with Lua's message."""
        out = self._load(text, chunkname)
        if isinstance(out, tuple):             # (nil, message)
            raise SyntaxError(out[1])
        return out

    def sequence(self):
        """A Lua function that calls each of its arguments in turn."""
        return self.lua.eval("function(...) for _, f in ipairs({...}) do f() end end")

    def set_env(self, name, selector, held):
        self.L4["__set_env"](name, selector, held)

    def set_args(self, args):
        """The script's `arg` table: arg[0] the script, arg[1..] its arguments."""
        t = self.lua.table()
        for i, a in enumerate(args):
            t[i] = a
        self.lua.globals().arg = t

    def new_coroutine(self, fn, *args):
        """A coroutine running fn(*args): its number for `step`."""
        return self.L4["__spawn"](fn, *args)

    def exit_handler(self, task_id, code):
        """A coroutine running the exit handler of task `task_id`."""
        return self.new_coroutine(self.L4["__exit_handler"], task_id, code)

    def step(self, co, *values):
        """Resume `co` with `values`: ("yield", name, args) for a request, ("done", None)
        when it returned, ("error", message, code) when it raised."""
        result, status = self.L4["__step"](co, *values)
        n = result.n
        ok = result[1]
        if not ok:
            message, code = error_text(result[2])
            return ("error", message, code)
        if status == "dead":
            return ("done", None, None)
        return ("yield", result[2], tuple(result[i] for i in range(3, n + 1)))

    def is_table(self, value):
        return lupa.lua_type(value) == "table"

    def items(self, table):
        """A Lua array as a Python list (1..#t)."""
        return [table[i] for i in range(1, len(table) + 1)]


def error_text(err):
    """A Lua error value as (message, code): a string, or ned's {msg, code} table."""
    if lupa.lua_type(err) == "table":
        msg = err["msg"]
        return (str(msg) if msg is not None else "error"), err["code"]
    return str(err), None
