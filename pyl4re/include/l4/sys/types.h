/*
 * l4/sys/types.h (pyl4re): capability selectors, message tags, timeouts and flexpages,
 * with l4sys's names, layouts and semantics (kernkonzept/l4re-core l4sys/include/types.h,
 * __timeout.h, __l4_fpage.h); the values come from the kernel's l4_abi.h.
 */
#ifndef PYL4RE_L4_SYS_TYPES_H
#define PYL4RE_L4_SYS_TYPES_H

#include <l4/sys/compiler.h>
#include <l4/sys/l4int.h>
#include <l4/sys/__abi.h>

typedef l4_umword_t l4_cap_idx_t;

L4_INLINE int l4_is_invalid_cap(l4_cap_idx_t c) { return (c & L4_INVALID_CAP_BIT) != 0; }
L4_INLINE int l4_is_valid_cap(l4_cap_idx_t c) { return (c & L4_INVALID_CAP_BIT) == 0; }
L4_INLINE int l4_capability_equal(l4_cap_idx_t a, l4_cap_idx_t b)
{ return (a >> L4_CAP_SHIFT) == (b >> L4_CAP_SHIFT); }

/* ---- message tag: label << 16 | flags | items << 6 | words */
typedef struct l4_msgtag_t { l4_mword_t raw; } l4_msgtag_t;

L4_INLINE l4_msgtag_t l4_msgtag(long label, unsigned words, unsigned items, unsigned flags)
{
    l4_msgtag_t t;
    t.raw = (l4_mword_t)(((l4_umword_t)label << L4_MSGTAG_LABEL_SHIFT)
                         | (flags & L4_MSGTAG_FLAGS)
                         | ((items & L4_MSGTAG_ITEMS_MASK) << L4_MSGTAG_ITEMS_SHIFT)
                         | (words & L4_MSGTAG_WORDS_MASK));
    return t;
}
L4_INLINE long l4_msgtag_label(l4_msgtag_t t) { return t.raw >> L4_MSGTAG_LABEL_SHIFT; }
L4_INLINE unsigned l4_msgtag_words(l4_msgtag_t t) { return t.raw & L4_MSGTAG_WORDS_MASK; }
L4_INLINE unsigned l4_msgtag_items(l4_msgtag_t t)
{ return (t.raw >> L4_MSGTAG_ITEMS_SHIFT) & L4_MSGTAG_ITEMS_MASK; }
L4_INLINE unsigned l4_msgtag_flags(l4_msgtag_t t) { return t.raw & L4_MSGTAG_FLAGS; }
L4_INLINE unsigned l4_msgtag_has_error(l4_msgtag_t t) { return t.raw & L4_MSGTAG_ERROR; }
L4_INLINE unsigned l4_msgtag_is_page_fault(l4_msgtag_t t)
{ return l4_msgtag_label(t) == L4_PROTO_PAGE_FAULT; }
L4_INLINE unsigned l4_msgtag_is_exception(l4_msgtag_t t)
{ return l4_msgtag_label(t) == L4_PROTO_EXCEPTION; }
L4_INLINE unsigned l4_msgtag_is_irq(l4_msgtag_t t) { return l4_msgtag_label(t) == L4_PROTO_IRQ; }

/* ---- timeouts: l4_timeout_s is 16 bits (m << e µs, or absolute); l4_timeout_t a pair */
typedef struct l4_timeout_s { l4_uint16_t t; } l4_timeout_s;
typedef union l4_timeout_t {
    l4_uint32_t raw;
    struct { l4_uint16_t rcv, snd; } p;   /* little-endian hosts: rcv is the low half */
} l4_timeout_t;

#define L4_IPC_TIMEOUT_NEVER ((l4_timeout_s){ PYL4RE_RAW_IPC_TIMEOUT_NEVER })
#define L4_IPC_TIMEOUT_0 ((l4_timeout_s){ PYL4RE_RAW_IPC_TIMEOUT_0 })
#define L4_IPC_NEVER ((l4_timeout_t){ .raw = PYL4RE_RAW_IPC_NEVER })
#define L4_IPC_RECV_TIMEOUT_0 ((l4_timeout_t){ .raw = PYL4RE_RAW_IPC_RECV_TIMEOUT_0 })
#define L4_IPC_SEND_TIMEOUT_0 ((l4_timeout_t){ .raw = PYL4RE_RAW_IPC_SEND_TIMEOUT_0 })
#define L4_IPC_BOTH_TIMEOUT_0 ((l4_timeout_t){ .raw = PYL4RE_RAW_IPC_BOTH_TIMEOUT_0 })

L4_INLINE l4_timeout_t l4_timeout(l4_timeout_s snd, l4_timeout_s rcv)
{
    l4_timeout_t t;
    t.raw = ((l4_uint32_t)snd.t << L4_TIMEOUT_SND_SHIFT) | rcv.t;
    return t;
}
L4_INLINE l4_timeout_s l4_timeout_rel(unsigned man, unsigned exp)
{
    l4_timeout_s t = { (l4_uint16_t)(((exp & L4_TIMEOUT_EXP_MASK) << L4_TIMEOUT_EXP_SHIFT)
                                     | (man & L4_TIMEOUT_MAN_MASK)) };
    return t;
}
/* The shortest relative timeout not shorter than us µs; never above L4_TIMEOUT_US_MAX. */
L4_INLINE l4_timeout_s l4_timeout_from_us(l4_uint64_t us)
{
    if (us == 0)
        return L4_IPC_TIMEOUT_0;
    if (us > L4_TIMEOUT_US_MAX)
        return L4_IPC_TIMEOUT_NEVER;
    unsigned e = 0;
    while ((us >> e) > L4_TIMEOUT_MAN_MASK)
        e++;
    l4_uint64_t m = us >> e;
    if ((m << e) < us && ++m > L4_TIMEOUT_MAN_MASK) {
        m >>= 1;
        e++;
    }
    return l4_timeout_rel((unsigned)m, e);
}

/* ---- flexpages: address | order << 6 | type << 4 | rights */
typedef union l4_fpage_t { l4_umword_t raw; l4_umword_t fp; } l4_fpage_t;

L4_INLINE l4_fpage_t l4_fpage(l4_addr_t address, unsigned order, unsigned char rights)
{
    l4_fpage_t f;
    f.raw = (address & L4_FPAGE_ADDR_MASK) | ((l4_umword_t)order << L4_FPAGE_SIZE_SHIFT)
            | ((l4_umword_t)L4_FPAGE_MEMORY << L4_FPAGE_TYPE_SHIFT) | (rights & L4_FPAGE_RIGHTS_MASK);
    return f;
}
L4_INLINE l4_fpage_t l4_obj_fpage(l4_cap_idx_t obj, unsigned order, unsigned char rights)
{
    l4_fpage_t f;
    f.raw = (obj & L4_FPAGE_ADDR_MASK) | ((l4_umword_t)order << L4_FPAGE_SIZE_SHIFT)
            | ((l4_umword_t)L4_FPAGE_OBJ << L4_FPAGE_TYPE_SHIFT) | (rights & L4_FPAGE_RIGHTS_MASK);
    return f;
}
L4_INLINE l4_fpage_t l4_iofpage(unsigned long port, unsigned order)
{
    l4_fpage_t f;
    f.raw = ((l4_umword_t)port << L4_FPAGE_ADDR_SHIFT) | ((l4_umword_t)order << L4_FPAGE_SIZE_SHIFT)
            | ((l4_umword_t)L4_FPAGE_IO << L4_FPAGE_TYPE_SHIFT) | L4_FPAGE_RW;
    return f;
}
L4_INLINE l4_fpage_t l4_fpage_all(void)
{
    l4_fpage_t f;
    f.raw = (l4_umword_t)L4_WHOLE_ADDRESS_SPACE << L4_FPAGE_SIZE_SHIFT;
    return f;
}
L4_INLINE l4_fpage_t l4_fpage_invalid(void) { l4_fpage_t f; f.raw = 0; return f; }
L4_INLINE unsigned l4_fpage_rights(l4_fpage_t f) { return f.raw & L4_FPAGE_RIGHTS_MASK; }
L4_INLINE unsigned l4_fpage_type(l4_fpage_t f)
{ return (f.raw & L4_FPAGE_TYPE_MASK) >> L4_FPAGE_TYPE_SHIFT; }
L4_INLINE unsigned l4_fpage_size(l4_fpage_t f)
{ return (f.raw & L4_FPAGE_SIZE_MASK) >> L4_FPAGE_SIZE_SHIFT; }
L4_INLINE l4_umword_t l4_fpage_page(l4_fpage_t f) { return f.raw >> L4_FPAGE_ADDR_SHIFT; }

/* Send-item control words (map items): send base | attributes << 4 | L4_ITEM_MAP | grant. */
L4_INLINE l4_umword_t l4_map_control(l4_umword_t snd_base, unsigned char cache, unsigned grant)
{
    return (snd_base & L4_FPAGE_CONTROL_MASK) | ((l4_umword_t)cache << 4) | L4_ITEM_MAP | grant;
}
L4_INLINE l4_umword_t l4_map_obj_control(l4_umword_t snd_base, unsigned grant)
{
    return l4_map_control(snd_base, 0, grant);
}

#endif
