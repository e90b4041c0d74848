"""Chunks: a long replay written as several functions of about `CHUNK_LINES` lines each, called one
after the other by `replay`, which keeps the variables that pass from one chunk to a later one.

    def _chunk0(arg_0):                 def replay(arg_0):
        t_4 = (arg_0 * 0.5)                 t_4, t_9, = _chunk0(arg_0)
        ...                                 t_9_g, = _chunk1(t_4, t_9)
        return t_4, t_9,                    return _chunk2(t_4, t_9_g)

CPython compiles one function in a time that grows faster than its length: a 100,000-op replay
(136,000 lines) took 1.8 s to compile as one function and 0.95 s as functions of 2,000 lines, each
compiled on its own (`load`). Each chunk runs the same lines in the same order, so the same operations
on the same numbers; what a call adds is passing the variables a later chunk reads (a tuple built and
unpacked per chunk).

Which variables pass is read from the text: a chunk takes the names it mentions that an earlier chunk
assigned (or the arguments), and returns the names it assigns that a later chunk mentions. The
generated code has no strings, so a `#` starts a comment.
"""

from __future__ import annotations

import builtins
import re
from types import CodeType
from typing import Any

__all__ = ["CHUNK_ABOVE", "CHUNK_LINES", "load", "split"]

CHUNK_LINES = 2000
# Only a longer replay is split: passing variables from chunk to chunk costs each call (a 15,000-line
# chain: 0.74 ms a call chunked, 0.63 whole) what it saves in compiling (0.16 s against 0.20 s once);
# at 60,000 lines splitting saves a third of the compile (0.57 s against 0.83 s) for 4% a call.
CHUNK_ABOVE = 30_000
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TARGETS = re.compile(r"^ *(?:for )?([A-Za-z_][A-Za-z0-9_, ]*?),? (?:\+?=|in) ", re.M)
_COMMENT = re.compile(r"#.*")  # the generated code has no strings: a # starts a comment
_DEF = re.compile(r"^def ", re.M)


def _groups(body: list[str]) -> list[list[str]]:
    """The body cut into runs of at least CHUNK_LINES lines, between statements (an indented line
    belongs to the statement above it, a comment to the statement below it)."""
    cuts, i = [0], CHUNK_LINES
    while i < len(body):
        if body[i].startswith(" ") or body[i - 1].startswith("#"):
            i += 1
        else:
            cuts.append(i)
            i += CHUNK_LINES
    cuts.append(len(body))
    return [body[cuts[j] : cuts[j + 1]] for j in range(len(cuts) - 1)]


def _function(name: str, params: list[str], lines: list[str], returns: str | None) -> str:
    end = "" if returns is None else f"\n    return {returns}"
    return f"def {name}({', '.join(params)}):\n    " + "\n    ".join(lines) + end


def _tuple(names: list[str]) -> str:
    return "".join(name + ", " for name in names)


def split(args: list[str], doc: str, body: list[str]) -> str:
    """The source defining `replay(*args)`: one function, or chunks called in turn when the body is
    longer than CHUNK_ABOVE lines (its last statement is its return)."""
    groups = _groups(body) if len(body) > CHUNK_ABOVE else [body]
    if len(groups) == 1:
        return _function("replay", args, [doc, *body], None) + "\n"
    code = [_COMMENT.sub("", "\n".join(group)) for group in groups]
    uses = [set(_NAME.findall(text)) for text in code]
    last: dict[str, int] = {}  # name -> the last chunk that mentions it
    for i, names in enumerate(uses):
        last.update(dict.fromkeys(names, i))
    known = set(args)  # names the caller holds: the arguments, and what chunks so far returned
    out, calls = [], [doc]
    for i, group in enumerate(groups):
        takes = sorted(uses[i] & known)
        call = f"_chunk{i}({', '.join(takes)})"
        if i == len(groups) - 1:
            out.append(_function(f"_chunk{i}", takes, group, None))
            calls.append(f"return {call}")
            break
        defs = {name.strip() for m in _TARGETS.findall(code[i]) for name in m.split(",")}
        gives = sorted(name for name in defs if last.get(name, -1) > i)
        out.append(_function(f"_chunk{i}", takes, group, _tuple(gives) if gives else None))
        calls.append(f"{_tuple(gives)}= {call}" if gives else call)
        known.update(gives)
    out.append(_function("replay", args, calls, None))
    return "\n".join(out) + "\n"


def load(source: str, env: dict[str, Any], filename: str) -> None:
    """Run `split`'s source into `env`, compiling one function at a time. CPython holds a whole module's
    parse in memory while it compiles it: a 136,000-line replay took 680 MB and 1.5 s compiled at
    once, 70 MB and 1.0 s function by function. Line numbers stay those of `source`."""
    starts = [0] + [m.start() for m in _DEF.finditer(source) if m.start() > 0]
    shift = 0  # lines before the function
    for i, start in enumerate(starts):
        text = source[start : starts[i + 1] if i + 1 < len(starts) else len(source)]
        exec(_shifted(builtins.compile(text, filename, "exec"), shift), env)  # noqa: S102 - our own text
        shift += text.count("\n")


def _shifted(code: CodeType, lines: int) -> CodeType:
    """`code` (and the functions it defines) as if its text started `lines` lines further down."""
    consts = tuple(_shifted(c, lines) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + lines, co_consts=consts)
