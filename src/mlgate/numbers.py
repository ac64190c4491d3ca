"""What counts as a number on the wire: a JSON int or float that is finite as a float.

JSON has no size limit on integers, so ``10**400`` arrives as a Python ``int`` that ``math.isfinite``
cannot even convert (it raises ``OverflowError``). Every check of a caller's number asks here, so such a
value is refused by name like ``inf`` is, never a crash.
"""

from __future__ import annotations

import math
from typing import Any


def finite(v: float) -> bool:
    """``math.isfinite``, with an int beyond a float's range (±1.8e308) read as not finite."""
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def is_finite_number(v: Any) -> bool:
    """An int or a float (bool, an int subclass, is not a number here) that is finite as a float."""
    return type(v) in (int, float) and finite(v)


def shown(v: Any, width: int = 40) -> str:
    """A caller's value for an error message: its repr cut to ``width``; an int beyond a float's range
    by its size (a 5,000-digit int cannot even be turned into text under Python's default limit)."""
    if type(v) is int and v.bit_length() > 1024:
        return "an integer too large for a number (beyond ±1.8e308)"
    return f"{v!r:.{width}}"
