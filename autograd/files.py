"""Writing files so that no data is lost: the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> None:
    """Call `write(tmp)` to fill a temporary file beside `path`, flush it to disk, then rename it
    over `path`. A crash at any moment leaves the previous file intact (at worst a `.tmp-*` file
    beside it); a failed `write` removes the temporary file and changes nothing."""
    target = Path(path)
    tmp = target.with_name(f".tmp-{target.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        write(tmp)
        # A fresh file created by `write` has the usual permissions (the umask decides), unlike mkstemp's 0600.
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # the data is on disk before the rename makes it the file
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable, where a folder can be opened
        dfd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` (UTF-8, `\\n` line ends) to `path` atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8", newline="\n"))
