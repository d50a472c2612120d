"""L4Re's protocol numbers, opcodes and flag values (l4re-core `l4re/include/protocols.h`,
`dataspace`, `rm`, `namespace`, `mem_alloc`, `parent`, `l4sys/include/meta`), shared by the
clients in `pyl4re.l4re` and the servers (moe, the in-task loader). Values only: no code.
"""
from ..l4sys.consts import L4_PROTO_FACTORY, L4_PROTO_LOG, L4_PROTO_META, L4_PROTO_PAGE_FAULT
from ..l4sys.consts import L4_PROTO_SCHEDULER

# Protocol numbers (tag labels) of the L4Re interfaces.
PROTO_DATASPACE = 0x4000
PROTO_NAMESPACE = 0x4001
PROTO_PARENT = 0x4002
PROTO_RM = 0x4005
PROTO_DMA_SPACE = 0x4008
PROTO_MEM_ALLOC = 0x400B
PROTO_LOG = L4_PROTO_LOG                     # -13: L4Re::Log is the Vcon interface
PROTO_SCHEDULER = L4_PROTO_SCHEDULER         # -14
PROTO_FACTORY = L4_PROTO_FACTORY             # -15
PROTO_META = L4_PROTO_META                   # -21
PROTO_PAGE_FAULT = L4_PROTO_PAGE_FAULT       # -2

# Dataspace opcodes and flags.
DS_MAP, DS_CLEAR, DS_INFO, DS_COPY_IN, DS_ALLOCATE, DS_MAP_INFO = range(6)
DS_X, DS_W, DS_R = 1, 2, 4
DS_RW, DS_RX, DS_RWX = 6, 5, 7
DS_RIGHTS_MASK = 0x0F
DS_CACHE_NORMAL, DS_CACHE_BUFFERABLE, DS_CACHE_UNCACHEABLE = 0x00, 0x10, 0x20
DS_CACHE_MASK = 0x30

# Mem_alloc: opcode of info, and the flags of alloc (a factory create of a Dataspace).
MEM_ALLOC_INFO = 0
MEM_CONTINUOUS, MEM_PINNED, MEM_SUPER_PAGES, MEM_FIXED_PADDR = 0x01, 0x02, 0x04, 0x08

# Rm opcodes and flags.
(RM_ATTACH, RM_DETACH, RM_FIND, RM_RESERVE_AREA, RM_FREE_AREA, RM_GET_REGIONS, RM_GET_AREAS,
 RM_GET_INFO, RM_ADD_RESCUE_JUMP, RM_REMOVE_RESCUE_JUMP, RM_PAGE_IN) = range(11)
RM_SEARCH_ADDR, RM_IN_AREA, RM_EAGER_MAP, RM_NO_EAGER_MAP = 0x20000, 0x40000, 0x80000, 0x100000
RM_ATTACH_MASK = 0x1F0000
RM_R, RM_W, RM_X = 4, 2, 1
RM_RW, RM_RX = 6, 5
RM_RIGHTS_MASK = 0xF
RM_CACHE_MASK = 0x30
RM_KERNEL, RM_PAGER, RM_RESERVED, RM_PRIVATE, RM_ANONYMOUS = 0x100, 0x400, 0x800, 0x1000, 0x2000
RM_REGION_MASK = RM_RIGHTS_MASK | RM_CACHE_MASK | 0x3F00
RM_DETACH_EXACT, RM_DETACH_OVERLAP = 1, 2
RM_DETACHED_DS, RM_KEPT_DS, RM_SPLIT_DS = 0, 1, 2
RM_DETACH_AGAIN, RM_UNMAPPED_RANGE = 4, 8
RM_REGIONS_PER_REPLY = 21

# Namespace opcodes and flags.
NS_QUERY, NS_REGISTER, NS_UNLINK = 0, 1, 3
NS_RO, NS_RW, NS_RS, NS_RWS, NS_STRONG = 4, 5, 6, 7, 2
NS_CAP_FLAGS = 0xF
NS_OVERWRITE = 0x200
NS_PARTLY_RESOLVED = 0x20

# Parent, Log (Vcon write), Meta.
PARENT_SIGNAL = 0
LOG_WRITE = 0
META_NUM_INTERFACES, META_INTERFACE, META_SUPPORTS = 0, 1, 2

# The varg types of factory arguments (l4sys `factory.h`).
VARG_NIL, VARG_UMWORD, VARG_MWORD, VARG_STRING = 0x00, 0x01, 0x81, 0x02

# Named capabilities: at most 16 characters stored (l4re_env_cap_entry_t).
CAP_NAME_MAX = 16
