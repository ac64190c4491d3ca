"""The one clock: timestamps as mlgate writes them (UTC, ISO 8601, text that sorts in time order)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> str:
    """Now, to the microsecond (rows of the state database)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def now_iso() -> str:
    """Now, to the millisecond, ``Z`` suffixed (registry tags, stage history)."""
    return iso_ms(datetime.now(UTC).timestamp())


def iso_ms(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_seconds(seconds: float) -> str:
    """A wall-clock time in messages ("since …")."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
