"""The one audited-call path: every way into mlgate that does something leaves its ledger row here.

``audited(rt, call, body)`` does, in this order: the scope check (``call.scope``), the
fail-closed ledger check (a call that could not leave its row does nothing), ``body``, the
mapping of errors (a domain error stays itself; anything else becomes ``InternalError`` with an
incident id, details in the log), one row (``Runtime.record``: the input digest, never the
values; of an error its class and fields only), and — for a call that changes state
(``call.durable``) or with ``MLGATE_LEDGER_SYNC`` — the wait until that row is committed. A call
its client cancels leaves its row all the same (``Cancelled``). If the row cannot be written the
call fails with ``Unavailable``: nothing answers successfully without its row.

Its users: the tools (``server/gate.py``), the model-card resource and completions
(``server/cards.py``), prompts (``server/prompts.py``), the HTTP 401/403 refusals
(``server/bearer.py`` through ``refused``), the CLI's operator commands (``commands/operator.py``)
and each skill step (``skills/run.py``, rows linked by ``run_id``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio

from mlgate.auth.caller import Caller
from mlgate.errors import Cancelled, InsufficientScope, MlgateError
from mlgate.serving.runtime import Runtime

log = logging.getLogger("mlgate.tools")
T = TypeVar("T")


class InternalError(MlgateError):
    """What a caller reads of an unexpected failure: where, and the incident id in the operator's log."""

    code = "internal"


@dataclass(frozen=True, slots=True)
class Call:
    tool: str  # the ledger's tool column: "ml_predict", "resource:model-card", "models.promote" …
    caller: Caller
    args: Mapping[str, Any] = field(default_factory=dict)  # digested, never stored
    scope: str | None = None  # the scope the call needs (None: checked elsewhere, or the local operator)
    what: str | None = None  # how a refusal names the call (default: ``tool``)
    durable: bool = False  # answer only once the row is committed (a change of state)
    run_id: str | None = None  # the skill run a step belongs to
    passthrough: tuple[type[BaseException], ...] = ()  # protocol errors re-raised as they are (with a row)


async def audited(rt: Runtime, call: Call, body: Callable[[], Awaitable[T]]) -> T:
    """Run ``body`` as ``call``: scope, ledger check, run, map errors, row, commit where required."""
    t0 = time.perf_counter()
    try:
        if call.scope is not None and not call.caller.may(call.scope):
            raise InsufficientScope(call.what or call.tool, call.scope)
        await rt.ledger.ready()
        result = await body()
    except anyio.get_cancelled_exc_class():
        with anyio.CancelScope(shield=True):  # cancelled (or the client went away): the row all the same
            try:
                await row(rt, call, None, t0, Cancelled())
            except MlgateError as exc:
                log.error("%s was cancelled and its ledger row could not be written: %s", call.tool, exc)
        raise
    except MlgateError as exc:
        await row(rt, call, None, t0, exc)
        raise
    except call.passthrough as exc:
        await row(rt, call, None, t0, exc)
        raise
    except Exception as exc:
        incident = uuid.uuid4().hex[:12]
        log.exception("%s failed unexpectedly (incident %s)", call.tool, incident)
        await row(rt, call, None, t0, exc)
        raise InternalError(
            f"{call.what or call.tool} failed inside the server (incident {incident}); "
            "the operator's log has details"
        ) from None
    await row(rt, call, result, t0, None)
    return result


async def row(rt: Runtime, call: Call, result: Any, t0: float, error: BaseException | None) -> None:
    """Append ``call``'s row; wait for its commit when the call is durable or MLGATE_LEDGER_SYNC is on."""
    seq = rt.record(call.tool, call.caller, call.args, result, t0, error, run_id=call.run_id)
    if call.durable or rt.settings.ledger_sync:
        await rt.committed(seq)


def refused(rt: Runtime, call: Call, error: MlgateError) -> None:
    """The row of a call refused before it could run (an HTTP 401/403): written in the background —
    a refusal answers the same whether or not its row lands, and a flood of them must not block."""
    try:
        rt.record(call.tool, call.caller, call.args, None, time.perf_counter(), error)
    except MlgateError as exc:
        log.error("the ledger row of a refused %s could not be written: %s", call.tool, exc)
