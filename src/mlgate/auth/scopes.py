"""The one map from tool to scope, and the rule that decides whether scopes suffice.

``ml:admin`` implies every other scope. The server refuses to start when a registered
tool has no entry here (see ``check_registered``).
"""

from __future__ import annotations

from collections.abc import Iterable

from mlgate.config import ALL_SCOPES
from mlgate.errors import ConfigError
from mlgate.schemas.interfaces import INTERFACE_TABLE

READ, INFER, MANAGE, HALT, ADMIN = ALL_SCOPES

TOOL_SCOPES: dict[str, str] = {
    **{i.tool: INFER for i in INTERFACE_TABLE},
    "ml_list_models": READ,
    "ml_model_info": READ,
    "ml_drift": READ,
    "ml_pull": MANAGE,
    "ml_compile": MANAGE,
    "ml_promote": MANAGE,
    "ml_rollback": MANAGE,
    "ml_compare": READ,
    "ml_retrain": MANAGE,
    "ml_list_skills": READ,
    "ml_run_skill": INFER,
    "ml_halt": HALT,
    "ml_resume": HALT,
    "ml_serving_status": READ,
    # jobs: also only the job's own caller (token subject) or ml:admin, checked by the job service
    "ml_job": READ,
    "ml_job_cancel": READ,
    "ml_list_jobs": READ,
}

BASE_SCOPE = READ
"""What a client is told to ask for first (the 401 challenge's ``scope``)."""


def satisfies(granted: Iterable[str], needed: str) -> bool:
    """True when ``granted`` includes ``needed`` or ``ml:admin``."""
    have = set(granted)
    return needed in have or ADMIN in have


def scope_for(tool: str) -> str:
    try:
        return TOOL_SCOPES[tool]
    except KeyError:
        raise ConfigError(f"tool {tool!r} has no scope in mlgate.auth.scopes.TOOL_SCOPES") from None


def check_registered(tool_names: Iterable[str]) -> None:
    """Refuse to start when any registered tool lacks a scope entry."""
    missing = sorted(set(tool_names) - set(TOOL_SCOPES))
    if missing:
        raise ConfigError(
            f"tools without a scope in TOOL_SCOPES: {', '.join(missing)}; add them before serving"
        )
