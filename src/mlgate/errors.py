"""The one error tree of mlgate.

    MlgateError                 a domain error: becomes an MCP ``isError`` result
    ├── InvalidInput            arguments the caller can fix (shape, type, size, finiteness)
    │   └── InvalidReference    a model reference that is malformed or not pinned
    ├── NotFound                an unknown model, version, alias, skill or file
    ├── WrongInterface          the version does not offer the interface asked for
    ├── IntegrityError          a digest that does not match what was recorded
    ├── Refused                 a policy refusal (allow-list, code not admitted, traversal, scope)
    │   ├── InsufficientScope   the caller lacks the scope a tool needs
    │   ├── InvalidToken        an HTTP request's bearer token was missing or refused (a ledger row)
    │   └── GuardRefused        a guard rule in mode refuse fired (names the rule, feature, value)
    ├── Unavailable             serving refused for now (halted, overloaded, breaker open, ledger down)
    │   ├── Halted
    │   ├── Overloaded
    │   ├── JobInterrupted      a job whose worker stopped renewing its lease
    │   └── StorageError        the artifact store is full, read-only or not writable (no paths said)
    ├── Cancelled               the client cancelled the call (or went away): the ledger row says so
    ├── JobCancelled            a job stopped by ml_job_cancel (or its cancelled call) before its commit point
    ├── JobFailed               a job failed inside the server (the worker's log has details)
    ├── BackendError            a model or remote engine failed while answering
    └── Degraded                a version's live quality broke one of its rules (a ledger row, not raised)

    AuthError                   not a domain error: stays HTTP 401 at the transport
    └── AuthUnavailable         tokens cannot be checked now (JWKS unreachable): HTTP 503, fail closed
    ConfigError                 bad settings: the process refuses to start

A failing promotion gate is not an error: ``ml_promote`` answers ``promoted: false`` with the
gates that failed.

Every ``MlgateError`` carries a message that says what was wrong and a ``hint`` that
says what to do instead; ``str(err)`` joins the two, and that is what an agent reads.
The audit ledger keeps less (``audit_text``): the error class and the offending fields
(``InvalidInput: features[0].bmi``), never the values — only errors whose message is the
server's own words (a halt, a stalled ledger, a missing scope) keep it.
"""

from __future__ import annotations

from collections.abc import Sequence


class MlgateError(Exception):
    """Base of every error an agent may see as a tool result."""

    code = "error"
    server_words = False  # True: the message never carries a caller's value, the ledger may keep it

    def __init__(self, message: str, hint: str | None = None, *, fields: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.fields = tuple(fields)  # where the caller's input was wrong ("features[0].bmi"), no values

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message

    def audit_text(self) -> str:
        """What the audit ledger keeps: the class and the offending fields, never argument values."""
        name = type(self).__name__
        if self.fields:
            return f"{name}: {', '.join(self.fields)}"
        return f"{name}: {self.message}" if self.server_words else name


class InvalidInput(MlgateError):
    code = "invalid_input"


class InvalidReference(InvalidInput):
    code = "invalid_reference"


class NotFound(MlgateError):
    code = "not_found"


class WrongInterface(MlgateError):
    code = "wrong_interface"


class IntegrityError(MlgateError):
    code = "integrity"


class Refused(MlgateError):
    code = "refused"


class GuardRefused(Refused):
    """A guard rule in ``mode: refuse`` fired; names the rule, the feature and the value."""

    code = "guard_refused"

    def __init__(
        self, message: str, hint: str, *, rule: str, kind: str, feature: str | None, value: float | None
    ) -> None:
        super().__init__(message, hint)
        self.rule = rule
        self.kind = kind
        self.feature = feature
        self.value = value

    def audit_text(self) -> str:
        return f"GuardRefused: rule {self.rule}" + (f" on {self.feature}" if self.feature else "")


class InsufficientScope(Refused):
    code = "insufficient_scope"
    server_words = True

    def __init__(self, tool: str, needed: str) -> None:
        super().__init__(
            f"{tool} needs the scope '{needed}', which this caller was not granted",
            f"ask for a token (or MLGATE_STDIO_SCOPES) that includes '{needed}'",
        )
        self.tool = tool
        self.needed = needed


class InvalidToken(Refused):
    """An HTTP request refused before any tool ran: no bearer token, or one that did not verify."""

    code = "invalid_token"
    server_words = True


class Unavailable(MlgateError):
    code = "unavailable"
    server_words = True  # a halt, a stalled ledger, a full queue: the server's state


class Halted(Unavailable):
    code = "halted"


class Overloaded(Unavailable):
    code = "overloaded"


class Cancelled(MlgateError):
    """The ledger's error of a call its client cancelled (or left) before it finished."""

    code = "cancelled"
    server_words = True

    def __init__(self) -> None:
        super().__init__("the call was cancelled by its client (or the client went away) before it finished")


class JobCancelled(MlgateError):
    """A job stopped by ``ml_job_cancel`` or its cancelled call, before its commit point."""

    code = "cancelled"


class JobInterrupted(Unavailable):
    """A job whose worker stopped renewing its lease (killed, or its process ended)."""

    code = "interrupted"


class JobFailed(MlgateError):
    """A job that failed inside the server (not a domain error): details are in the worker's log."""

    code = "job_failed"


class BackendError(MlgateError):
    code = "backend"


class Degraded(MlgateError):
    code = "degraded"
    server_words = True  # live metrics against the rule: computed by the server


class AuthError(Exception):
    """A credential problem: answered with HTTP 401 by the transport, never as a tool result."""


class AuthUnavailable(AuthError):
    """Tokens cannot be checked right now (JWKS unreachable or unreadable): answer 503."""


class ConfigError(Exception):
    """Settings that cannot work; the process refuses to start and says which setting."""


class StorageError(Unavailable):
    """The artifact store refused a write (full, read-only, no permission): said as such, without paths."""

    code = "storage"
