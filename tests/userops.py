"""Names for the ops tests define: the registry is global and a name cannot be registered twice."""

from __future__ import annotations

import itertools

_serial = itertools.count()


def fresh(stem: str) -> str:
    """A name no other test uses."""
    return f"{stem}_{next(_serial)}"
