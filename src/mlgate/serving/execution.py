"""Running a model call: halt check, guards, circuit breaker, then the batcher or a direct call.

Whether a version is batched is decided once, when it is first called: a model whose
one-row call costs microseconds (linear models, ONNX Runtime sessions) is called inline —
batching would only add a thread hop and a wait; a slow one (tree ensembles in
scikit-learn) goes through a per-model ``Batcher``. ``MLGATE_BATCHING=on|off`` overrides,
and so does a version tag ``mlgate.batching=on|off``.

Every call of a version, batched or not, counts against ``MLGATE_MAX_INFLIGHT`` while it runs or
waits: one more is refused at once with ``Overloaded`` ("retry in" about one call's duration), so
an unbatched model under a burst cannot pile up unbounded work behind the thread pool.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, overload

import anyio
import numpy as np

from mlgate import telemetry
from mlgate.config import Settings
from mlgate.domain import LoadedModel, Matrix, VersionInfo
from mlgate.errors import BackendError, MlgateError, Overloaded
from mlgate.records.frames import NonFiniteOutput
from mlgate.serving.batcher import Batcher, measure_call_cost, should_batch
from mlgate.serving.guards import Guards
from mlgate.serving.halt_scopes import served_scopes
from mlgate.serving.killswitch import KillSwitch

INLINE_MAX_S = 1e-3  # unbatched calls slower than this run off the event loop


class Executor:
    def __init__(self, settings: Settings, killswitch: Callable[[], KillSwitch], guards: Guards) -> None:
        self.settings = settings
        self._killswitch = killswitch
        self.guards = guards
        self.batchers: dict[tuple[str, int, str], Batcher] = {}
        self._cost: dict[tuple[str, int, str], float] = {}
        self.inflight: dict[tuple[str, int], int] = {}
        self._took: dict[tuple[str, int], float] = {}  # a recent call's seconds, per version (for "retry in")
        self.overloaded = 0

    @contextmanager
    def _slot(self, info: VersionInfo) -> Iterator[None]:
        """One of the version's ``MLGATE_MAX_INFLIGHT`` places, or ``Overloaded`` at once. (The counts live
        on the event loop's thread: no lock.)"""
        key = info.key
        n = self.inflight.get(key, 0)
        if n >= self.settings.max_inflight:
            self.overloaded += 1
            wait = max(0.1, self._took.get(key, 0.1))
            raise Overloaded(
                f"{info.name}@{info.version} is overloaded: {n} calls are in flight (MLGATE_MAX_INFLIGHT)",
                f"retry in {wait:.1f} s",
            )
        self.inflight[key] = n + 1
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._took[key] = time.perf_counter() - t0
            left = self.inflight[key] - 1
            if left:
                self.inflight[key] = left
            else:
                del self.inflight[key]

    async def admit(self, loaded: LoadedModel) -> None:
        """Refuse if a halt now covers any scope of what ``loaded`` serves (name, origin, digest)."""
        await self._killswitch().enforce(loaded.info.name, served_scopes(loaded))

    async def rows(self, loaded: LoadedModel, method: str, rows: Matrix) -> tuple[Sequence[Any], list[str]]:
        """One output per row of ``rows`` from ``loaded.impl.<method>`` (a list; for ``classify`` a
        ``Classified``: the labels and the distributions as the adapter returned them), plus guard warnings."""
        info = loaded.info  # the halt check before the call was made when the model was acquired
        with telemetry.span("mlgate.guards", **{"mlgate.rows": int(rows.shape[0])}):
            warnings = self.guards.check_rows(info, rows)
            breaker = self.guards.breaker(f"{info.name}@{info.version}")
            flagged = breaker.admit()  # raises when open (mode refuse); a warning in mode warn
        if flagged:
            warnings = [*warnings, flagged]
        call = _traced(_per_row(getattr(loaded.impl, method), method))
        key = (info.name, info.version, method)
        batcher: Batcher | None = None
        try:
            with self._slot(info):
                batcher = self._batcher(key, loaded, call, rows)
                if batcher is not None:
                    with telemetry.span("mlgate.batch_wait", **{"mlgate.rows": int(rows.shape[0])}):
                        out = await batcher.submit(rows)  # the model call runs in the batch leader's trace
                elif self._cost.get(key, 0.0) > INLINE_MAX_S:
                    out = await anyio.to_thread.run_sync(call, rows)
                else:
                    out = call(rows)
            await self.admit(loaded)  # a halt that landed during the call: deliver nothing
        except NonFiniteOutput as exc:
            from mlgate.serving.explain import explain_non_finite

            named = explain_non_finite(
                info, rows, exc.what, exc.value, exc.records if batcher is None else []
            )
            if named is not None:  # the input's fault, not the model's: the breaker is not charged
                raise named from None
            breaker.failure()
            raise
        except BackendError:
            breaker.failure()
            raise
        except MlgateError:  # halted, overloaded: not the model's fault
            raise
        except Exception as exc:
            breaker.failure()
            raise BackendError(
                f"{info.name}@{info.version} failed: {type(exc).__name__}: {exc}",
                "check the input against ml_model_info; the operator's log has details",
            ) from exc
        breaker.success()
        return out, warnings

    async def call(self, loaded: LoadedModel, fn: Callable[..., Any], *args: Any) -> Any:
        """A call that is not row-shaped (forecast, segment, analyze): breaker, off the loop, halt check after."""
        info = loaded.info
        breaker = self.guards.breaker(f"{info.name}@{info.version}")
        breaker.before()
        try:
            with self._slot(info):
                out = await anyio.to_thread.run_sync(lambda: _traced(fn)(*args))
        except MlgateError:
            raise
        except Exception as exc:
            breaker.failure()
            raise BackendError(f"{info.name}@{info.version} failed: {type(exc).__name__}: {exc}") from exc
        await self.admit(loaded)
        breaker.success()
        return out

    def _batcher(
        self,
        key: tuple[str, int, str],
        loaded: LoadedModel,
        call: Callable[[Matrix], Sequence[Any]],
        rows: Matrix,
    ) -> Batcher | None:
        found = self.batchers.get(key)
        if found is not None:
            return found
        mode = loaded.info.tags.get("mlgate.batching", self.settings.batching)
        if key not in self._cost:
            declared = getattr(loaded.impl, "call_cost_s", None)  # remote engines: do not time real calls
            self._cost[key] = (
                float(declared)
                if declared is not None
                else measure_call_cost(call, np.ascontiguousarray(rows[:1]), repeats=3)
            )
        if mode == "off" or (mode == "auto" and not should_batch(self._cost[key])):
            return None
        s = self.settings
        name = f"{key[0]}@{key[1]}"
        batcher = Batcher(
            call,
            max_batch_size=s.batch_max_size,
            max_wait_ms=s.batch_max_wait_ms,
            max_queue=s.batch_max_queue,
            admit=lambda: self.admit(loaded),
            name=name,
        )
        self.batchers[key] = batcher
        return batcher

    def stats(self) -> dict[str, dict[str, Any]]:
        return {f"{n}@{v}:{m}": b.stats() for (n, v, m), b in self.batchers.items()}


def _traced(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` inside a ``mlgate.model_call`` span (in the worker thread: it runs in the caller's context)."""

    def call(*args: Any) -> Any:
        with telemetry.span("mlgate.model_call"):
            return fn(*args)

    return call


class Classified(Sequence[tuple[str, dict[str, float]]]):
    """A classifier's answer as it came (labels, distributions: two lists), one ``(label, distribution)``
    item per row: what the batcher splits, by slicing both lists — no pair is built per row."""

    __slots__ = ("labels", "probabilities")

    def __init__(self, labels: Sequence[str], probabilities: Sequence[dict[str, float]]) -> None:
        if len(labels) != len(probabilities):
            raise BackendError(
                f"the model returned {len(labels)} labels for {len(probabilities)} distributions",
                "the version's classifier output is inconsistent",
            )
        self.labels, self.probabilities = labels, probabilities  # as they came (``Distributions`` stay so)

    def __len__(self) -> int:
        return len(self.labels)

    @overload
    def __getitem__(self, i: int) -> tuple[str, dict[str, float]]: ...
    @overload
    def __getitem__(self, i: slice) -> Classified: ...
    def __getitem__(self, i: int | slice) -> tuple[str, dict[str, float]] | Classified:
        if isinstance(i, slice):
            return Classified(self.labels[i], self.probabilities[i])
        return self.labels[i], self.probabilities[i]


def _per_row(fn: Callable[[Matrix], Any], method: str) -> Callable[[Matrix], Sequence[Any]]:
    """Adapt a model method so it returns one item per input row (what the batcher splits)."""
    if method == "classify":

        def classify(rows: Matrix) -> Classified:
            labels, probs = fn(rows)
            return Classified(labels, probs)

        return classify
    return fn
