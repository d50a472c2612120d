-- The L4 module of pyl4re's ned: what an L4Re configuration script sees (the constants,
-- L4.Env, capabilities with their rights and methods, the loader). It is ned's own Lua
-- half; every L4 operation is a request yielded to the ned µApp (`op` below), which
-- performs the real invocation and resumes the script with the answer. A failed request
-- raises a Lua error table {msg = "...", code = -E} as L4Re's ned does.
local yield, pack, unpack = coroutine.yield, table.pack, table.unpack
local setmetatable, getmetatable, type, pairs, ipairs, error, tostring, select =
  setmetatable, getmetatable, type, pairs, ipairs, error, tostring, select
local getinfo = debug.getinfo

local L4 = {}

-- Where the script called us: "rom/x.cfg:12: " (the first frame outside this module).
local function where()
  for level = 3, 40 do
    local info = getinfo(level, "Sl")
    if info == nil then break end
    if info.source ~= "=l4.lua" and info.source ~= "=ned" and info.currentline
       and info.currentline > 0 then
      return info.short_src .. ":" .. info.currentline .. ": "
    end
  end
  return ""
end

local Error = { __tostring = function(e) return e.msg end }

local function fail(msg, code)
  error(setmetatable({ msg = where() .. msg, code = code }, Error), 0)
end
L4.__fail = fail

local function need(ok, msg)          -- a wrong argument: -EINVAL
  if not ok then fail(msg, -22) end
end

-- A script that computes for long without any L4 operation would hold up the whole
-- simulated machine (Lua cannot be preempted from outside): after BUSY_LIMIT million
-- instructions in a row it is stopped with an error.
local BUSY_LIMIT, busy = 100, 0
local function busy_hook()
  busy = busy + 1
  if busy > BUSY_LIMIT then
    busy = 0
    error(("ran %d million Lua instructions without an L4 operation (a busy loop?)")
          :format(BUSY_LIMIT), 2)
  end
end

-- One request to the ned µApp: it answers (true, results...) or (false, msg, code).
local function op(name, ...)
  busy = 0
  local r = pack(yield(name, ...))
  if not r[1] then fail(r[2], r[3]) end
  return unpack(r, 2, r.n)
end

L4.Proto = {
  Dataspace = 0x4000, Namespace = 0x4001, Goos = 0x4003, Mem_alloc = 0x4004, Rm = 0x4005,
  Event = 0x4006, Inhibitor = 0x4007, Sigma0 = -6, Log = -13, Scheduler = -14,
  Factory = -15, Vm = -16, Dma_space = -17, Irq_sender = -18, Semaphore = -20,
  Iommu = -22, Ipc_gate = 0,
}
L4.Rights = { s = 2, w = 1, r = 4, d = 8, n = 16, c = 32, ro = 4, rw = 5, rws = 7 }
L4.Ldr_flags = { eager_map = 1, all_segs_cow = 2, pinned_segs = 4 }
L4.Mem_alloc_flags = { Continuous = 1, Pinned = 2, Super_pages = 4 }
L4.Dbg = { Info = 1, Warn = 2, Boot = 4, Server = 0x10, Exceptions = 0x20, Cmd_line = 0x40,
           Loader = 0x80, Name_space = 0x400, All = 0xffffffff }

-- ---- capabilities: a selector in ned's task, the rights a use passes on (8 bits: the
-- fpage rights R 4, W 1, S 2, D 8 and the map-word flags n 0x10, c 0x20 ...), and the
-- rights ned itself holds (nil: not known to ned, the kernel decides).
local Cap = {}
Cap.__index = Cap
Cap.__name = "L4::Cap"
Cap.__tostring = function(c) return ("L4::Cap<%#x, rights %#x>"):format(c._sel, c._rights) end

local function new_cap(sel, rights, held)
  return setmetatable({ _sel = sel, _rights = rights, _held = held }, Cap)
end
L4.__new_cap = new_cap

local function is_cap(v) return getmetatable(v) == Cap end
L4.is_cap = is_cap

local letters = { r = 4, w = 1, s = 2, d = 8, n = 0x10, c = 0x20 }

local function with_rights(self, rights)
  if rights == self._rights then return self end
  return new_cap(self._sel, rights, self._held)
end

function Cap:m(r)
  if r == nil then return self._rights & 0xf end
  local v
  if type(r) == "number" then
    v = r & 0xff
  elseif type(r) == "string" then
    v = 0
    for ch in r:lower():gmatch(".") do v = v | (letters[ch] or 0) end
  else
    fail("cap:m() takes a rights string (\"rw\") or a number, not a " .. type(r), -22)
  end
  return with_rights(self, v | 4)
end
Cap.mode = Cap.m
function Cap:rights() return self._rights end
function Cap:svr() return with_rights(self, 0xef) end
function Cap:is_valid() return op("cap_valid", self._sel) end

-- Factory capabilities: numbers go as machine words, strings as strings, nil as nil.
function Cap:create(proto, ...)
  if type(proto) ~= "number" then
    fail("factory:create(proto, ...) needs a protocol number (L4.Proto.*), not a "
         .. type(proto), -22)
  end
  local args = pack(...)
  for i = 1, args.n do
    local t = type(args[i])
    if t ~= "number" and t ~= "string" and t ~= "nil" then
      fail("factory:create argument " .. i .. " must be a number, string or nil, not a " .. t, -22)
    end
  end
  local sel = op("create", self._sel, proto, args)
  return new_cap(sel, 4, 0xf)
end

-- Name-space capabilities.
function Cap:query(name)
  if type(name) ~= "string" then fail("namespace:query(name) needs a string", -22) end
  return function() return self:__query(name) end
end
Cap.q = Cap.query

function Cap:__query(name)
  local sel = op("query", self._sel, name)
  if sel == nil then return nil end
  return new_cap(sel, 4, nil)
end

local function resolve_path(path)
  local first, rest = path:match("^([^/]+)/?(.*)$")
  local base = first and L4.Env[first]
  if not is_cap(base) then
    fail("no capability " .. tostring(first) .. " in L4.Env for '" .. path .. "'", -2)
  end
  if rest == "" then return base end
  return base:__query(rest)
end

function Cap:register(key, value, fab)
  if type(key) ~= "string" then fail("namespace:register(key, value) needs a string key", -22) end
  if type(value) == "function" then value = value(self, key) end
  if type(value) == "string" then
    -- a path through L4.Env ("rom/file"); any other string reserves the name (a
    -- placeholder: clients asking for it wait until a capability is registered)
    local first = value:match("^([^/]+)")
    if first and is_cap(L4.Env[first]) then value = resolve_path(value)
    else return op("register", self._sel, key, nil, 0) end
  end
  if type(value) == "table" and not is_cap(value) then
    if fab == nil then fail("namespace:register: a table value needs a factory", -22) end
    value = fab(value)
  end
  if value == nil then return op("unlink", self._sel, key) end
  if not is_cap(value) then fail("namespace:register: '" .. key .. "' is not a capability", -22) end
  op("register", self._sel, key, value._sel, value._rights)
end
Cap.r = Cap.register

function L4.cast(to, cap)
  if not is_cap(cap) then fail("L4.cast(type, cap) needs a capability", -22) end
  return new_cap(cap._sel, cap._rights, cap._held)
end

-- ---- L4.Env, L4.Info, sleeping, printing
L4.Env = {}
function L4.__set_env(name, sel, held) L4.Env[name] = new_cap(sel, 7, held) end

L4.Info = { Kip = {} }
function L4.Info.Kip.str() return op("kip_str") end
function L4.Info.arch() return op("arch") end
function L4.Info.platform() return op("platform") end
function L4.Info.mword_bits() return op("mword_bits") end

function L4.sleep(s)
  if type(s) == "number" then
    op("print", ("Ned: Sleeping %ds\n"):format(s // 1))
    op("sleep", (s // 1) * 1000)
  end
end
function L4.msleep(ms)
  if type(ms) == "number" then
    op("print", ("Ned: Sleeping %dms\n"):format(ms // 1))
    op("sleep", ms // 1)
  end
end
function L4.__print(...)
  local n, out = select("#", ...), {}
  for i = 1, n do out[i] = tostring((select(i, ...))) end
  op("print", table.concat(out, "\t") .. "\n")
end
function L4.__read(path) return op("read", path) end
function L4.server_loop() op("serve") end

-- ---- started programs
local Task = {}
Task.__index = Task
Task.__name = "L4::App"
local handlers = {}

function Task:state() return op("task_state", self._id) end
function Task:exit_code() return op("task_exit_code", self._id) end
function Task:wait() return op("task_wait", self._id) end
function Task:kill() return op("task_kill", self._id) end
function Task:exit_handler(fn)
  if type(fn) ~= "function" then fail("task:exit_handler(fn) needs a function", -22) end
  if handlers[self._id] ~= nil then fail("exit handler already set", -17) end
  handlers[self._id] = fn
  local dead, code = op("task_exit_handler", self._id)
  if dead then handlers[self._id] = false; fn(code) end
end
-- ned runs this in a coroutine of its own when the program exits
function L4.__exit_handler(id, code)
  local fn = handlers[id]
  handlers[id] = false
  if fn then fn(code) end
end

-- ---- the loader
local Loader = {}
Loader.__index = Loader
L4.Loader = Loader

local function check_loader(self)
  if getmetatable(self) ~= Loader then
    fail("a loader method was called on something else (use loader:start, not loader.start)", -22)
  end
end

function Loader.new(proto)
  if proto ~= nil and type(proto) ~= "table" then fail("Loader.new{...} takes a table", -22) end
  local f = proto or {}
  local lfab = f.loader or f.mem
  f.log_fab = f.log_fab or lfab
  f.ns_fab = f.ns_fab or lfab
  f.rm_fab = f.rm_fab or lfab
  f.sched_fab = f.sched_fab or lfab
  f.factory = f.factory or L4.Env.factory
  return setmetatable(f, Loader)
end

function Loader:new_channel()
  check_loader(self)
  return self.factory:create(L4.Proto.Ipc_gate)
end

function Loader:create_namespace(tmpl, fab)
  check_loader(self)
  if type(tmpl) ~= "table" or is_cap(tmpl) then return tmpl end
  local ns_fab = fab or self.ns_fab
  local ns = ns_fab:create(L4.Proto.Namespace)
  local loader = self
  for k, v in pairs(tmpl) do
    ns:register(k, v, function(t) return loader:create_namespace(t, ns_fab) end)
  end
  return ns
end

function Loader:create_sched_proxy(a)
  check_loader(self)
  a = a or {}
  local offset = a.prio_offset or 0
  local limit = a.prio_limit or offset + 10
  local fab = a.fab or self.sched_fab
  if a.cpus ~= nil then
    return fab:create(L4.Proto.Scheduler, limit, offset, a.cpus)
  end
  return fab:create(L4.Proto.Scheduler, limit, offset)
end

local function cap_arg(env, key)
  local v = env[key]
  if v == nil then return nil end
  if type(v) == "function" then v = v() end
  if not is_cap(v) then fail("start: '" .. key .. "' must be a capability", -22) end
  return v
end

function Loader:startv(env, prog, ...)
  check_loader(self)
  need(type(env) == "table", "loader:start(env, cmd): env must be a table, not a " .. type(env))
  need(type(prog) == "string", "loader:start(env, cmd): the program must be a string")
  local args, posix = {}, nil
  for i = 1, select("#", ...) do
    local a = select(i, ...)
    if type(a) == "string" then args[#args + 1] = a
    elseif type(a) == "table" and i == select("#", ...) then posix = a
    elseif a ~= nil then fail("loader:startv: argument " .. i .. " must be a string", -22) end
  end
  local caps = env.caps or {}
  if type(caps) ~= "table" then fail("start: 'caps' must be a table", -22) end
  local given = {}
  for name, v in pairs(caps) do
    if type(name) ~= "string" then fail("start: capability names are strings", -22) end
    if type(v) == "function" then v = v() end
    if type(v) == "table" and not is_cap(v) then v = self:create_namespace(v) end
    if v ~= nil then
      if not is_cap(v) then fail("start: caps." .. name .. " is not a capability", -22) end
      given[name] = v
    end
  end
  if given.rom == nil and L4.Env.rom then given.rom = L4.Env.rom:m("r") end
  local list = {}
  for name, c in pairs(given) do
    if c._held ~= nil and (c._rights & 0xf) & ~c._held ~= 0 then
      fail(("start: caps.%s: rights %#x beyond what ned holds (%#x)")
           :format(name, c._rights & 0xf, c._held), -1)
    end
    list[#list + 1] = { name = name, sel = c._sel, rights = c._rights }
  end
  table.sort(list, function(a, b) return a.name < b.name end)
  local log
  if type(env.log) == "table" and not is_cap(env.log) then
    local largs = { unpack(env.log) }
    largs[1] = largs[1] or prog:gsub(".*/", "")
    local fab = self.log_fab
    if fab == nil then fail("starting a program without a log factory", -22) end
    log = fab:create(L4.Proto.Log, unpack(largs))
  elseif env.log == nil then
    local fab = self.log_fab
    if fab == nil then fail("starting a program without a log factory", -22) end
    log = fab:create(L4.Proto.Log, (prog:gsub(".*/", "")))
  else
    log = cap_arg(env, "log")
  end
  local sched = cap_arg(env, "scheduler")
  local mem = cap_arg(env, "mem")
  local spec = { prog = prog, args = args, caps = list, log = log._sel,
                 scheduler = sched and sched._sel, mem = mem and mem._sel }
  local id = op("exec", spec)
  return setmetatable({ _id = id }, Task)
end

function Loader:start(env, cmd, posix)
  check_loader(self)
  need(type(env) == "table", "loader:start(env, cmd): env must be a table, not a " .. type(env))
  need(type(cmd) == "string", "loader:start(env, cmd): cmd must be a string, not a " .. type(cmd))
  local words = {}
  for w in cmd:gmatch("%S+") do words[#words + 1] = w end
  if #words == 0 then fail("loader:start: empty command line", -22) end
  words[#words + 1] = posix
  return self:startv(env, unpack(words))
end

function L4.__make_default_loader()
  L4.Env.user_factory = L4.Env.mem_alloc
  L4.default_loader = Loader.new{ factory = L4.Env.factory, mem = L4.Env.mem_alloc }
end

-- ned's coroutines by number (the script, exit handlers), and one step of one of them
-- for the ned µApp: a table {ok, ...} and its status (a finished one is forgotten).
local coroutines, next_co = {}, 0
function L4.__spawn(fn, ...)
  next_co = next_co + 1
  local args = pack(...)
  local co = coroutine.create(function() return fn(unpack(args, 1, args.n)) end)
  debug.sethook(co, busy_hook, "", 1000000)
  coroutines[next_co] = co
  return next_co
end
function L4.__step(id, ...)
  local co = coroutines[id]
  busy = 0
  local r = pack(coroutine.resume(co, ...))
  local status = coroutine.status(co)
  if status == "dead" then coroutines[id] = nil end
  return r, status
end

return L4
