"""Aliases at the price of pins: an alias answer is kept until it moves.

Real MLflow registry (the session's), real state databases (SQLite files), real promotions.
The resolver is MLflow's own with a counter on ``resolve`` (what the registry is asked), so
"did not hit the registry" is counted, not inferred from timing.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlgate.config import Settings
from mlgate.domain import VersionInfo
from mlgate.lifecycle import stages
from mlgate.models.ref import ModelRef
from mlgate.models.resolvers import MlflowResolver
from mlgate.serving import inference
from mlgate.serving.runtime import Runtime
from mlgate.state.db import StateDB
from mlgate.state.generations import GenerationStore

pytestmark = pytest.mark.anyio
ROW = [{"a": 2.0, "b": 3.0}]


class CountingResolver(MlflowResolver):
    """MLflow's resolver, counting the alias lookups it is asked to make."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.alias_lookups: list[str] = []

    def resolve(self, ref: ModelRef) -> VersionInfo:
        if ref.version is None:
            self.alias_lookups.append(str(ref.alias))
        return super().resolve(ref)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def registered(demo_home: Path) -> dict[str, Any]:
    """A model of its own: version 1 predicts column a (production), version 2 predicts column b."""
    from sklearn.linear_model import LinearRegression

    from mlgate.models.registrar import Registrar

    name = f"alias-{uuid.uuid4().hex[:8]}"
    reg = Registrar(Settings(home=demo_home))
    x = np.random.default_rng(0).normal(size=(30, 2))
    reg.register_sklearn(
        name, LinearRegression().fit(x, x[:, 0]), x, ["a", "b"], {"r2": 1.0}, alias="production"
    )
    reg.register_sklearn(name, LinearRegression().fit(x, x[:, 1]), x, ["a", "b"], {"r2": 1.0})
    return {"name": name, "registry": reg.registry}


@pytest.fixture
def model(registered: dict[str, Any]) -> str:
    """The model, with production back on version 1 (tests move it)."""
    registered["registry"].set_alias(registered["name"], "production", 1)
    return str(registered["name"])


def _settings(demo_home: Path, state: Path, **kw: Any) -> Settings:
    return Settings(home=demo_home, state_url=f"sqlite:///{state}", **kw)


def _runtime(settings: Settings) -> tuple[Runtime, CountingResolver]:
    resolver = CountingResolver(settings)
    return Runtime(settings, resolver), resolver


async def test_a_second_call_on_an_alias_does_not_ask_the_registry(
    model: str, demo_home: Path, tmp_path: Path
) -> None:
    rt, resolver = _runtime(_settings(demo_home, tmp_path / "state.db"))
    try:
        first = await inference.predict(rt, f"{model}@production", ROW)
        second = await inference.predict(rt, f"{model}@production", ROW)
        pinned = await inference.predict(rt, f"{model}@1", ROW)
        assert resolver.alias_lookups == ["production"]  # once, for both alias calls; never for the pin
        for result in (first, second, pinned):
            assert result.model.version == 1 and result.predictions[0] == pytest.approx(2.0, abs=1e-6)
        assert (first.model.ref, second.model.ref) == (f"{model}@production", f"{model}@production")
    finally:
        await rt.aclose()


async def test_a_zero_ttl_asks_the_registry_on_every_call(
    model: str, demo_home: Path, tmp_path: Path
) -> None:
    rt, resolver = _runtime(_settings(demo_home, tmp_path / "state.db", alias_ttl_ms=0))
    try:
        for _ in range(3):
            await inference.predict(rt, f"{model}@production", ROW)
        assert resolver.alias_lookups == ["production"] * 3
    finally:
        await rt.aclose()


async def test_a_promotion_through_a_is_served_by_b_after_its_next_poll(
    model: str, demo_home: Path, tmp_path: Path
) -> None:
    """Two runtimes share the state database; the TTL is ten minutes, so only the generation can tell B."""
    settings = _settings(demo_home, tmp_path / "state.db", alias_ttl_ms=600_000)
    a, _ = _runtime(settings)
    b, b_registry = _runtime(settings)
    ref = f"{model}@production"
    try:
        assert (await inference.predict(b, ref, ROW)).model.version == 1
        assert (await inference.predict(b, ref, ROW)).model.version == 1
        assert b_registry.alias_lookups == ["production"]  # kept
        promoted = await stages.promote(a, model, 2, "production", caller=a.local_caller())
        assert promoted.promoted, promoted.message
        assert (await inference.predict(a, ref, ROW)).model.version == 2  # A follows its own change at once
        b.killswitch.refresh()  # B's halt poll (its thread runs the same every MLGATE_HALT_POLL_S)
        moved = await inference.predict(b, ref, ROW)
        assert moved.model.version == 2 and moved.predictions[0] == pytest.approx(3.0, abs=1e-6)
        assert moved.model.ref == ref
        assert b_registry.alias_lookups == ["production", "production"]  # asked once more, no TTL wait
        rolled = await stages.rollback(a, model, 1, caller=a.local_caller())
        assert rolled.production == 1
        b.killswitch.refresh()
        assert (await inference.predict(b, ref, ROW)).model.version == 1
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_change_made_outside_mlgate_is_seen_after_the_ttl_and_not_before(
    model: str, registered: dict[str, Any], demo_home: Path, tmp_path: Path
) -> None:
    rt, resolver = _runtime(_settings(demo_home, tmp_path / "state.db", alias_ttl_ms=5_000))
    clock = rt.models.clock = Clock()
    ref = f"{model}@production"
    try:
        assert (await inference.predict(rt, ref, ROW)).model.version == 1
        registered["registry"].set_alias(model, "production", 2)  # a plain MLflow client, not mlgate
        rt.killswitch.refresh()  # the poll cannot see it: nothing bumped a generation
        clock.now += 4.9
        stale = await inference.predict(rt, ref, ROW)
        assert stale.model.version == 1 and stale.predictions[0] == pytest.approx(
            2.0, abs=1e-6
        )  # the stamp says what ran
        assert resolver.alias_lookups == ["production"]
        clock.now += 0.2  # 5.1 s after the answer: past the TTL
        fresh = await inference.predict(rt, ref, ROW)
        assert fresh.model.version == 2 and fresh.predictions[0] == pytest.approx(3.0, abs=1e-6)
        assert resolver.alias_lookups == ["production", "production"]
    finally:
        await rt.aclose()


async def test_an_answer_in_flight_when_the_alias_moves_is_not_kept(
    model: str, registered: dict[str, Any], demo_home: Path, tmp_path: Path
) -> None:
    """A lookup that started before a move and returned after it answers once, and is not reused."""
    settings = _settings(demo_home, tmp_path / "state.db", alias_ttl_ms=600_000)

    class MovesDuringTheFirstLookup(CountingResolver):
        store: Any = None

        def resolve(self, ref: ModelRef) -> VersionInfo:
            found = super().resolve(ref)
            if len(self.alias_lookups) == 1:  # a promotion in this process lands during the lookup
                registered["registry"].set_alias(model, "production", 2)
                self.store.forget_aliases(model)
            return found

    resolver = MovesDuringTheFirstLookup(settings)
    rt = Runtime(settings, resolver)
    resolver.store = rt.models
    try:
        assert (await inference.predict(rt, f"{model}@production", ROW)).model.version == 1
        assert (await inference.predict(rt, f"{model}@production", ROW)).model.version == 2
        assert (await inference.predict(rt, f"{model}@production", ROW)).model.version == 2
        assert resolver.alias_lookups == ["production", "production"]
    finally:
        await rt.aclose()


def test_generations_count_moves_per_model_across_processes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    one, two = GenerationStore(StateDB(url)), GenerationStore(StateDB(url))  # two replicas
    assert one.read() == {}
    assert one.bump("m", "alice") == 1
    assert two.bump("m", "bob") == 2
    assert two.bump("other", "bob") == 1
    assert one.read() == {"m": 2, "other": 1}
    assert GenerationStore(StateDB(url)).read() == {"m": 2, "other": 1}  # created once, kept on reopen


async def test_an_unreadable_generation_table_keeps_no_alias_answer(
    model: str, demo_home: Path, tmp_path: Path
) -> None:
    """Fail safe: when the poll cannot read the generations, every alias call asks the registry."""
    import sqlalchemy as sa

    rt, resolver = _runtime(_settings(demo_home, tmp_path / "state.db", alias_ttl_ms=600_000))
    try:
        await inference.predict(rt, f"{model}@production", ROW)
        with rt.state.write() as conn:
            conn.execute(sa.text("DROP TABLE alias_generations"))
        rt.killswitch.refresh()
        for _ in range(2):
            await inference.predict(rt, f"{model}@production", ROW)
        assert resolver.alias_lookups == ["production"] * 3
    finally:
        await rt.aclose()


def test_registering_under_an_alias_from_the_command_line_bumps_the_generation(
    demo_home: Path, tmp_path: Path
) -> None:
    """`mlgate models register NAME FILE --alias production` moves an alias: replicas are told."""
    import argparse

    import skops.io as sio
    from sklearn.linear_model import LinearRegression

    from mlgate.commands.registration import register

    x = np.random.default_rng(0).normal(size=(20, 2))
    file = tmp_path / "model.skops"
    sio.dump(LinearRegression().fit(x, x[:, 0]), file)
    rt = Runtime(_settings(demo_home, tmp_path / "state.db"))
    name = f"alias-cli-{uuid.uuid4().hex[:8]}"
    args = argparse.Namespace(
        name=name,
        source=str(file),
        alias="production",
        remote=None,
        admit=False,
        features=None,
        interfaces=None,
    )
    assert register(rt, args) == 0
    assert rt.generations.read() == {name: 1}
