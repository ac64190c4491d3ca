"""What a halt reaches: the scopes of a served version, and what a halt's named scope covers.

A halt must stop what is served, not one name for it: a version registered from a Hub pull
(``NAME@1``) and the snapshot itself (``hf:org/repo@<commit>``) serve the same bytes. So a
loaded version carries every scope it can be halted by (``scopes_of``):

- its registered name (``hf:org/repo`` for a snapshot served directly);
- the ``hf:org/repo`` it was pulled from, when its registration tags record one (``hf.repo``);
- ``sha256:<hex>`` of its artifact (the digest its stamp shows) and, for a pulled version,
  of the pulled file it was registered from (``hf.file_sha256``, the snapshot's own digest).

A halt names one scope; when it is set, ``covers`` adds the digests that scope serves now
(every version of a halted name; the registered twins of a halted digest), and the state
database keeps them with the halt, so every replica's poll reads the same answer without
asking the registry on its hot path. A version registered under a halted name later is refused
by its name; its other refs are covered when the halt is set again.
"""

from __future__ import annotations

import logging
import re

from mlgate.domain import LoadedModel, VersionInfo
from mlgate.errors import BackendError, InvalidInput, NotFound
from mlgate.models.mlflow_registry import MlflowRegistry
from mlgate.models.tags import TAG_SHA

log = logging.getLogger(__name__)
DIGEST = "sha256:"
_HEX = re.compile(r"^[0-9a-f]{64}$")
_KEY = "halt_scopes"  # kept in LoadedModel.extra: computed once per loaded version


def digest_scope(value: str) -> str:
    """``sha256:<64 hex>`` normalised, or ``InvalidInput`` saying what a digest scope looks like."""
    hexpart = value.strip()[len(DIGEST) :].lower()
    if not _HEX.match(hexpart):
        raise InvalidInput(
            "a digest halt scope is 'sha256:' followed by 64 hex digits",
            "copy the sha256 from a call's model stamp or ml_model_info",
        )
    return DIGEST + hexpart


def _digests(info: VersionInfo) -> list[str]:
    found = [info.sha256 or info.tags.get(TAG_SHA), info.tags.get("hf.file_sha256")]
    return [DIGEST + d.lower() for d in found if d]


def scopes_of(info: VersionInfo) -> tuple[str, ...]:
    """Every scope a halt of which stops this version (see the module docstring)."""
    if info.name.startswith("hf:"):
        scopes = ["hf:" + info.name[3:].rpartition("@")[0].lower()]
    else:
        scopes = [info.name]
        origin = info.tags.get("hf.repo")
        if origin:
            scopes.append("hf:" + origin.lower())
    return tuple(dict.fromkeys([*scopes, *_digests(info)]))


def served_scopes(loaded: LoadedModel) -> tuple[str, ...]:
    """``scopes_of`` the loaded version, computed once (its digest is known after the load)."""
    found = loaded.extra.get(_KEY)
    if found is None:
        found = loaded.extra[_KEY] = scopes_of(loaded.info)
    return tuple(found)


def covers(scope: str | None, registry: MlflowRegistry) -> tuple[tuple[str, ...], str | None]:
    """The further scopes a halt of ``scope`` reaches, and a note when they could not all be read.

    A name covers the digests of its versions; a digest covers the other digests of the versions
    that carry it (artifact ↔ pulled file); ``hf:org/repo`` needs none (its versions carry it as
    their origin); ``None`` (all serving) needs none. A registry that does not answer leaves the
    halt on its named scope only, and the note says so."""
    if scope is None or scope.startswith("hf:"):
        return (), None
    try:
        if scope.startswith(DIGEST):
            twins = [v for v in registry.all_versions() if scope in _digests(v)]
        else:
            twins = registry.versions(scope)
    except NotFound:
        return (), None
    except BackendError as exc:
        log.warning("halt of %s: the registry did not answer; it covers its named scope only", scope)
        return (), (
            f"the halt covers '{scope}' only: the registry did not answer ({exc.message}), so other "
            "references serving the same bytes are not covered; halt again once it answers"
        )
    found = dict.fromkeys(d for v in twins for d in _digests(v))
    found.pop(scope, None)
    return tuple(found), None
