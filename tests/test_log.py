"""The kernel's Log object (Vcon, §8.9; Fiasco's Vlog) and the kernel console: writes from
µApps on the harness's stream and in k.log_lines / k.log_records, reads of the harness's
input, the attributes, the ICU protocol of its input line, and every refusal."""
import io

import pytest

import pyl4re
from pyl4re import Kernel
from pyl4re.l4sys import (
    L4_CAP_FPAGE_R, L4_EBADPROTO, L4_EINVAL, L4_EMSGTOOSHORT, L4_ENOSYS, L4_EPERM,
    L4_ICU_OP_BIND, L4_ICU_OP_INFO, L4_ICU_OP_MASK, L4_ICU_OP_MSI_INFO, L4_ICU_OP_SET_MODE,
    L4_ICU_OP_UNMASK, L4_IPC_NEVER, L4_MSGTAG_SCHEDULE, L4_PROTO_IRQ, L4_PROTO_LOG,
    L4_PROTO_THREAD, L4_SYSF_CALL, L4_VCON_ECHO, L4_VCON_GET_ATTR_OP, L4_VCON_ICANON,
    L4_VCON_ICRNL, L4_VCON_IGNCR, L4_VCON_INLCR, L4_VCON_OCRNL, L4_VCON_ONLCR, L4_VCON_ONLRET,
    L4_VCON_READ_OP, L4_VCON_READ_SIZE, L4_VCON_READ_STAT_DONE, L4_VCON_SET_ATTR_OP,
    L4_VCON_WRITE_OP, L4_VCON_WRITE_SIZE, l4_ipc_error, l4_ipc_sleep, l4_map_obj_control,
    l4_msgtag, l4_msgtag_has_error, l4_msgtag_label, l4_msgtag_words, l4_obj_fpage, l4_task_map,
    l4_timeout, l4_timeout_from_us, l4_utcb, l4_vcon_attr_t, l4_vcon_get_attr, l4_vcon_read,
    l4_vcon_read_with_flags, l4_vcon_send, l4_vcon_set_attr, l4_vcon_write,
)
from pyl4re import traps

from kobj_util import invoke, ok, sel

LOG_R = sel(0)                      # the Log capability mapped again with R only


def boot(arch, cpus=1, **kw):
    stream = io.StringIO()
    return Kernel(arch=arch, cpus=cpus, memory=16 << 20, log_stream=stream, **kw), stream


def run(arch, main, input_=None, **kw):
    """Boot, start main, feed input, run; returns (kernel, stream, what main returned)."""
    k, stream = boot(arch, **kw)
    k.start_task(main, name="main")
    if input_ is not None:
        k.log_input(input_)
    res = k.run()
    assert "main" in res.exited, res
    return k, stream, res.exited["main"]


def sleep_us(us):
    return l4_ipc_sleep(l4_timeout(0, l4_timeout_from_us(us)))


# ---- write

def test_output_of_two_uapps_appears_on_the_stream_and_in_log_lines(arch):
    k, stream = boot(arch, cpus=2)

    async def writer(env, word, pause):
        for i in range(3):
            await sleep_us(pause)
            assert await l4_vcon_write(env.log, f"{word} {i}\n") == len(word) + 3

    async def alpha(env):
        await writer(env, "alpha", 100)

    async def beta(env):
        await writer(env, "beta", 250)

    k.start_task(alpha, name="alpha")
    k.start_task(beta, name="beta", cpu=1)
    k.run()
    want = ["alpha 0", "alpha 1", "beta 0", "alpha 2", "beta 1", "beta 2"]
    assert k.log_lines == want
    assert stream.getvalue() == "".join(line + "\n" for line in want)
    records = k.log_records
    assert [(r.task, r.line) for r in records] == [(w.split()[0], w) for w in want]
    times = [r.time_ns for r in records]
    assert times == sorted(times) and times[0] >= 100_000


def test_lines_are_printed_whole_once_their_newline_arrives(arch):
    k, stream = boot(arch)

    async def one(env):
        await l4_vcon_write(env.log, "one: start ")
        await sleep_us(100)
        await l4_vcon_write(env.log, "end\n")

    async def two(env):
        await sleep_us(50)
        await l4_vcon_write(env.log, "two\n")
        await l4_vcon_write(env.log, "no newline")

    k.start_task(one, name="one")
    k.start_task(two, name="two")
    k.run()
    assert k.log_lines == ["two", "one: start end"]              # never mixed within a line
    assert stream.getvalue() == "two\none: start end\n"
    assert list(k._console.pending().values()) == [b"no newline"]


def test_pyl4re_log_writes_long_text_in_pieces(arch):
    text = "".join(f"line {i:03d} " + "x" * 40 + "\n" for i in range(30))   # 1500 bytes

    async def main(env):
        return await pyl4re.log(text), await pyl4re.log(b"bytes too\n")

    k, stream, got = run(arch, main)
    assert got == (len(text), 10)
    assert k.log_lines == text.splitlines() + ["bytes too"]
    assert len(text) > 3 * L4_VCON_WRITE_SIZE


def test_write_is_send_only_and_the_tag_reports_no_error(arch):
    async def main(env):
        tag = await l4_vcon_send(env.log, b"sent\n")
        u = l4_utcb()
        # A call (with a receive phase) gets label 0 as its reply: Fiasco would wait.
        u.mr[0], u.mr[1] = L4_VCON_WRITE_OP, 5
        u.mr.view("uint8")[16:21] = list(b"call\n")
        raw, _ = await traps.enter(env.log | L4_SYSF_CALL,
                                   l4_msgtag(L4_PROTO_LOG, 3, 0, L4_MSGTAG_SCHEDULE).raw, 0,
                                   L4_IPC_NEVER)
        return (l4_msgtag_has_error(tag), l4_msgtag_label(tag), raw & 0xFFFF,
                await l4_vcon_write(env.log, b""))

    k, _, got = run(arch, main)
    assert got == (False, 0, 0, 0)
    assert k.log_lines == ["sent", "call"]


def test_write_takes_the_length_from_mr1_and_cuts_nothing_it_can_hold(arch):
    async def main(env):
        u = l4_utcb()
        u.mr.view("uint8")[16:16 + 12] = list(b"abcdefghijk\n")
        # Fiasco reads MR1 bytes whatever the tag's word count: 2 words still print.
        a = await invoke(env.log, L4_PROTO_LOG, [L4_VCON_WRITE_OP, 12], words=2)
        # A length beyond what the MRs hold (488) prints nothing at all.
        b = await invoke(env.log, L4_PROTO_LOG, [L4_VCON_WRITE_OP, L4_VCON_WRITE_SIZE + 1],
                         words=63)
        return a, b

    k, _, got = run(arch, main)
    assert got == (0, 0)
    assert k.log_lines == ["abcdefghijk"]


def test_a_write_of_exactly_write_size_bytes(arch):
    text = ("y" * (L4_VCON_WRITE_SIZE - 1) + "\n").encode()

    async def main(env):
        return await l4_vcon_write(env.log, text + b"z\n")

    k, _, got = run(arch, main)
    assert got == L4_VCON_WRITE_SIZE                     # cut at one message
    assert k.log_lines == ["y" * (L4_VCON_WRITE_SIZE - 1)]


def test_output_flags(arch):
    async def main(env):
        await l4_vcon_write(env.log, b"a\rb\n")             # default: \r stays
        ok(await l4_vcon_set_attr(env.log, l4_vcon_attr_t(0, L4_VCON_OCRNL, 0)))
        await l4_vcon_write(env.log, b"c\rd\n")             # OCRNL: \r becomes \n
        ok(await l4_vcon_set_attr(env.log, l4_vcon_attr_t(0, L4_VCON_ONLRET, 0)))
        await l4_vcon_write(env.log, b"e\rf\n")             # ONLRET: \r is dropped

    k, _, _ = run(arch, main)
    assert k.log_lines == ["a\rb", "c", "d", "ef"]


def test_invalid_utf8_is_replaced(arch):
    async def main(env):
        await l4_vcon_write(env.log, b"caf\xc3\xa9 \xff!\n")

    k, stream, _ = run(arch, main)
    assert k.log_lines == ["café \ufffd!"]


# ---- read

def test_read_takes_the_harness_input(arch):
    async def main(env):
        first = await l4_vcon_read(env.log, 4)
        rest = await l4_vcon_read(env.log, 100)
        empty = await l4_vcon_read(env.log, 100)
        return first, rest, empty

    _, _, got = run(arch, main, input_=b"hello\rworld")
    # More waiting: size + 1; the default ICRNL turns \r into \n.
    assert got == ((5, b"hell"), (7, b"o\nworld"), (0, b""))


def test_read_reports_done_in_mr0(arch):
    async def main(env):
        u = l4_utcb()
        a = await invoke(env.log, L4_PROTO_LOG, [L4_VCON_READ_OP | (3 << 16)])
        mr0_more = int(u.mr[0])
        b = await invoke(env.log, L4_PROTO_LOG, [L4_VCON_READ_OP | (3 << 16)])
        mr0_done = int(u.mr[0])
        return a, mr0_more, b, mr0_done, bytes(u.mr.view("uint8")[8:10])

    _, _, got = run(arch, main, input_="abcde")
    assert got == (0, 3, 0, 2 | L4_VCON_READ_STAT_DONE, b"de")


def test_read_with_flags_and_sizes(arch):
    async def main(env):
        with pytest.raises(ValueError):
            await l4_vcon_read(env.log, L4_VCON_READ_SIZE + 1)
        big = await l4_vcon_read_with_flags(env.log, L4_VCON_READ_SIZE)
        return big[0], len(big[1])

    _, _, got = run(arch, main, input_=b"q" * 600)
    assert got == (L4_VCON_READ_SIZE + 1, L4_VCON_READ_SIZE)


def test_read_needs_w_and_a_receive_phase(arch):
    async def main(env):
        ok(await l4_task_map(env.task, env.task, l4_obj_fpage(env.log, 0, L4_CAP_FPAGE_R),
                             l4_map_obj_control(LOG_R, 0)))
        refused = await l4_vcon_read(LOG_R, 10)
        # Send-only: nothing to deliver the input to, so nothing is taken.
        send_only = await invoke(env.log, L4_PROTO_LOG, [L4_VCON_READ_OP | (10 << 16)],
                                 send_only=True)
        after = await l4_vcon_read(env.log, 10)
        # Writing needs no right.
        written = await l4_vcon_write(LOG_R, b"r only\n")
        return refused, send_only, after, written

    k, _, got = run(arch, main, input_=b"xyz")
    assert got == ((-L4_EPERM, b""), 0, (3, b"xyz"), 7)
    assert k.log_lines == ["r only"]
    assert "needed w" in k.explain_last_error() or "EPERM" in k.explain_last_error()


def test_input_flags(arch):
    async def main(env):
        out = []
        for i_flags, n in ((0, 3), (L4_VCON_IGNCR, 2), (L4_VCON_INLCR, 3), (L4_VCON_ICRNL, 3)):
            ok(await l4_vcon_set_attr(env.log, l4_vcon_attr_t(i_flags, 0, 0)))
            out.append((await l4_vcon_read(env.log, n))[1])
        return out

    _, _, got = run(arch, main, input_=b"a\r\nb\r\nc\r\nd\r\n")
    # IGNCR drops the \r (and reads on); INLCR turns \n into \r; ICRNL \r into \n.
    assert got == [b"a\r\n", b"b\n", b"c\r\r", b"d\n\n"]


def test_log_input_refuses_other_types(arch):
    k, _ = boot(arch)
    with pytest.raises(TypeError):
        k.log_input(42)
    k.log_input("text")
    assert bytes(k._console.input) == b"text"


def test_log_stream_must_be_a_stream(arch):
    with pytest.raises(TypeError):
        Kernel(arch=arch, memory=16 << 20, log_stream=42)


# ---- attributes

def test_attributes_default_and_onlcr_is_always_added(arch):
    async def main(env):
        tag, before = await l4_vcon_get_attr(env.log)
        words = l4_msgtag_words(tag)
        ok(await l4_vcon_set_attr(env.log, l4_vcon_attr_t(L4_VCON_IGNCR, 0, L4_VCON_ICANON)))
        _, after = await l4_vcon_get_attr(env.log)
        raw = l4_vcon_attr_t(1, 2, 3)
        raw.set_raw()
        ok(await l4_vcon_set_attr(env.log, raw))
        _, cleared = await l4_vcon_get_attr(env.log)
        return words, before, after, cleared

    _, _, got = run(arch, main)
    assert got == (4, l4_vcon_attr_t(L4_VCON_ICRNL, L4_VCON_ONLCR, L4_VCON_ECHO),
                   l4_vcon_attr_t(L4_VCON_IGNCR, L4_VCON_ONLCR, L4_VCON_ICANON),
                   l4_vcon_attr_t(0, L4_VCON_ONLCR, 0))


def test_get_attr_without_receive_phase_and_set_attr_reads_mrs_as_they_are(arch):
    async def main(env):
        send_only = await invoke(env.log, L4_PROTO_LOG, [L4_VCON_GET_ATTR_OP], send_only=True)
        u = l4_utcb()
        u.mr[1], u.mr[2], u.mr[3] = L4_VCON_INLCR, 0, 0
        short = await invoke(env.log, L4_PROTO_LOG, [L4_VCON_SET_ATTR_OP])    # 1 word
        return send_only, short, (await l4_vcon_get_attr(env.log))[1]

    _, _, got = run(arch, main)
    assert got == (0, 0, l4_vcon_attr_t(L4_VCON_INLCR, L4_VCON_ONLCR, 0))


def test_attr_argument_checks(arch):
    async def main(env):
        with pytest.raises(TypeError):
            await l4_vcon_set_attr(env.log, (1, 2, 3))
        with pytest.raises(TypeError):
            await l4_vcon_write(env.log, 42)
        with pytest.raises(ValueError):
            await l4_vcon_send(env.log, b"x" * (L4_VCON_WRITE_SIZE + 1))
        with pytest.raises(ValueError):
            await l4_vcon_write(env.log, b"abc", 4)
        return await l4_vcon_write(env.log, b"abc\n", 2)

    k, _, got = run(arch, main)
    assert got == 2 and k._console.pending() != {}


# ---- refusals and the ICU protocol of the input line

def test_wrong_label_and_empty_message(arch):
    async def main(env):
        return (await invoke(env.log, L4_PROTO_THREAD, [L4_VCON_WRITE_OP, 0]),
                await invoke(env.log, L4_PROTO_LOG, []),
                await invoke(env.log, L4_PROTO_LOG, [], send_only=True))

    _, _, got = run(arch, main)
    assert got == (-L4_EBADPROTO, -L4_EMSGTOOSHORT, -L4_EMSGTOOSHORT)


def test_the_icu_protocol_of_the_log_input_line(arch):
    async def main(env):
        u = l4_utcb()
        info = await invoke(env.log, L4_PROTO_IRQ, [L4_ICU_OP_INFO])
        info_words = [int(x) for x in u.mr[:3]]
        return (info, info_words,
                await invoke(env.log, L4_PROTO_IRQ, [L4_ICU_OP_MSI_INFO, 0, 0]),
                await invoke(env.log, L4_PROTO_IRQ, [L4_ICU_OP_SET_MODE, 0, 1]),
                await invoke(env.log, L4_PROTO_IRQ, [L4_ICU_OP_SET_MODE, 1, 1]),
                await invoke(env.log, L4_PROTO_IRQ, [L4_ICU_OP_SET_MODE, 0]),
                await invoke(env.log, L4_PROTO_IRQ, [L4_ICU_OP_MASK, 0], send_only=True),
                await invoke(env.log, L4_PROTO_IRQ, [L4_ICU_OP_UNMASK, 0], send_only=True),
                await invoke(env.log, L4_PROTO_IRQ, [L4_ICU_OP_BIND, 0]),
                await invoke(env.log, L4_PROTO_IRQ, [99]),
                await invoke(env.log, L4_PROTO_IRQ, []))

    _, _, got = run(arch, main)
    assert got == (0, [0, 1, 0], -L4_ENOSYS, 0, -L4_EINVAL, -L4_EMSGTOOSHORT, 0, 0,
                   -L4_ENOSYS, -L4_ENOSYS, -L4_EMSGTOOSHORT)


def test_a_closed_log_capability_fails_as_ipc(arch):
    async def main(env):
        u = l4_utcb()
        tag = await l4_vcon_send(0x7F000, b"x")
        return l4_msgtag_has_error(tag), l4_ipc_error(tag, u), await l4_vcon_write(0x7F000, b"y")

    _, _, got = run(arch, main)
    assert got[0] and got[1] == 4 and got[2] == -2004        # L4_IPC_ENOT_EXISTENT
