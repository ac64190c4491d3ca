"""The scopes and the rule that decides whether they suffice: ``ml:admin`` implies every other.

``ml:audit`` reads the audit ledger (``ml_audit``) and nothing else: an auditor need not be an admin.

Each tool declares its scope where it is listed (``server/app.py``); inference tools and skill
steps take theirs from the interface table (``schemas/interfaces.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

from mlgate.config import ALL_SCOPES

READ, INFER, MANAGE, HALT, AUDIT, ADMIN = ALL_SCOPES


BASE_SCOPE = READ
"""What a client is told to ask for first (the 401 challenge's ``scope``)."""


def satisfies(granted: Iterable[str], needed: str) -> bool:
    """True when ``granted`` includes ``needed`` or ``ml:admin``."""
    have = set(granted)
    return needed in have or ADMIN in have
