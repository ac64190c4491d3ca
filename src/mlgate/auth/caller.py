"""Who is calling: built once at the edge (the tool wrapper, a command) and passed down explicitly."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mlgate.auth.scopes import ADMIN, satisfies
from mlgate.errors import InsufficientScope


@dataclass(frozen=True, slots=True)
class Caller:
    """The token's subject and client, or the local user on stdio or at a shell."""

    subject: str
    client: str
    transport: str
    scopes: frozenset[str]

    @classmethod
    def local(cls, transport: str, scopes: Iterable[str]) -> Caller:
        return cls("local", "local", transport, frozenset(scopes))

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.scopes

    def may(self, scope: str) -> bool:
        return satisfies(self.scopes, scope)

    def require_admin(self, what: str) -> None:
        """The one rule for admin-only options (force, allow_pickle, allow_floating, looser tolerances)."""
        if not self.is_admin:
            raise InsufficientScope(what, ADMIN)
