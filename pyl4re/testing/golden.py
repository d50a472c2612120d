"""Golden output, matched as L4Re's test harness matches it (kernkonzept/mk
`tool/lib/L4/TapWrapper/Plugin/OutputMatching.pm`): colour escapes are stripped from the
output; an expected line `tag | text` becomes the regular expression `^tag\\W+\\| text`
(so the tag's padding is not significant), any other expected line `^\\s*line\\s*$`;
lines are regular expressions unless `literal`; matching starts after "L4 Bootstrapper"
or "Welcome to L4/Fiasco.OC!" when the output has such a line. The expected lines must
appear in this order; other output lines may come between them (pyl4re's reading).

`match_output(lines, expected)` gives a MatchResult: true when everything matched, with
a diff-like report otherwise.
"""
import re
from dataclasses import dataclass

ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TAGGED = re.compile(r"^(\S+)\s+\|\s(.*)$")
START_MARKS = ("L4 Bootstrapper", "Welcome to L4/Fiasco.OC!")


def strip_colours(line):
    return ESCAPE.sub("", line)


def pattern(expected_line, literal=False):
    """The regular expression an expected line stands for."""
    m = TAGGED.match(expected_line)
    if m:
        tag, text = m.groups()
        text = re.escape(text) if literal else text
        return re.compile(rf"^{re.escape(tag) if literal else tag}\W+\| {text}")
    body = re.escape(expected_line.strip()) if literal else expected_line.strip()
    return re.compile(rf"^\s*{body}\s*$")


@dataclass
class MatchResult:
    ok: bool
    diff: str = ""
    matched: int = 0

    def __bool__(self):
        return self.ok


def _lines(value, what):
    if isinstance(value, str):
        return value.splitlines()
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TypeError(f"{what} must be a str or a list of str, not {type(value).__name__}")


def match_output(lines, expected, literal=False):
    """Match output `lines` (a list of str or one str) against `expected` (the same; blank
    expected lines are skipped)."""
    out = [strip_colours(line) for line in _lines(lines, "lines")]
    want = [w for w in _lines(expected, "expected") if w.strip()]
    for i, line in enumerate(out):
        if any(mark in line for mark in START_MARKS):
            out = out[i + 1:]
            break
    try:
        pats = [pattern(w, literal) for w in want]
    except re.error as e:
        raise ValueError(f"an expected line is not a regular expression: {e}") from None
    pos = 0
    for n, (w, p) in enumerate(zip(want, pats)):
        for j in range(pos, len(out)):
            if p.search(out[j]):
                pos = j + 1
                break
        else:
            report = [f"expected line {n + 1} not found after output line {pos}:",
                      f"- {w}", f"  (as /{p.pattern}/)", "output from there:"]
            report += [f"+ {line}" for line in out[pos:pos + 20]]
            if len(out) - pos > 20:
                report.append(f"  ... {len(out) - pos - 20} more lines")
            return MatchResult(False, "\n".join(report), n)
    return MatchResult(True, "", len(want))
