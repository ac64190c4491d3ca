"""Issue 13's acceptance for forecasters, through the MCP tools, on a registry filled by plain MLflow calls.

statsmodels pickles and pyfunc ``python_model`` pickles run code when loaded: they are listed and
described (``runs_code``) without loading, refused by ``ml_forecast`` until an operator admits them
(``mlgate models admit`` for one, the admission book for the rest), then answer with the library's own
numbers. Prophet (JSON) needs no admission. The example ``ml_model_info`` gives works as given.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import call, mlgate_env
from tests.forecasting.models import drift_forecast

pytestmark = pytest.mark.anyio

LEVELS = [0.8, 0.95]
FORECASTERS = [
    "sm-sarimax", "sm-arima", "sm-ets", "sm-ets-mul", "sm-holt-winters", "pr-prophet",
    "pf-statsforecast-style", "pf-yhat-style",
]  # fmt: skip
NOT_SERVED = ["sm-ols", "pf-no-params"]  # look like forecasters from their files; refused when loaded
RUNS_CODE = {
    "sm": ["a pickled statsmodels results object"],
    "pf": ["a pickled pyfunc python_model"],
    "pr": [],
}


@dataclass
class Home:
    settings: Settings
    admitted: bool = False


@pytest.fixture(scope="module")
def home(plain_registry: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Home:
    settings = Settings(
        home=tmp_path_factory.mktemp("forecast-home"),
        tracking_uri=plain_registry["uri"],
        stdio_scopes=["ml:read", "ml:infer"],
    )
    settings.ensure_home()
    return Home(settings)


@pytest.fixture
async def rt(home: Home) -> AsyncIterator[Runtime]:
    runtime = Runtime(home.settings)
    yield runtime
    await runtime.aclose()


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[Any]:
    async with Client(build_server(rt)) as c:
        yield c


async def admitted(client: Any, rt: Runtime, home: Home) -> None:
    """Admit every code-bearing version in the module's state DB, at the digest ``ml_model_info`` reports
    (the CLI path, ``mlgate models admit``, is the refusal test's, in a home of its own)."""
    if home.admitted:
        return
    for name in [*FORECASTERS, *NOT_SERVED]:
        err, info = await call(client, "ml_model_info", {"model": f"{name}@1"})
        assert not err, info
        if info["runs_code"]:
            rt.admissions.admit(name, 1, info["model"]["sha256"], "tests (reviewed fixtures)")
    home.admitted = True


async def test_listed_and_described_without_loading(
    client: Any, rt: Runtime, plain_registry: dict[str, Any]
) -> None:
    err, listing = await call(client, "ml_list_models", {})
    assert not err, listing
    versions = {m["name"]: m["versions"][0] for m in listing["models"]}
    for name in [*FORECASTERS, *NOT_SERVED]:
        assert versions[name]["interfaces"] == ["forecaster"], (name, versions[name])
        assert versions[name]["metrics"]["mae"] > 0, (name, versions[name])
    res = plain_registry["fitted"]["sarimax"]
    assert versions["sm-sarimax"]["metrics"] == pytest.approx(
        {"mae": float(np.mean(np.abs(res.resid))), "aic": float(res.aic)}
    )
    assert rt.models.cache.stats().loads == 0
    for name in FORECASTERS:
        err, info = await call(client, "ml_model_info", {"model": f"{name}@1"})
        assert not err, info
        assert info["interfaces"] == ["forecaster"] and info["metrics"] == versions[name]["metrics"], name
        assert info["runs_code"] == RUNS_CODE[name[:2]], (name, info["runs_code"])
        assert info["admitted_by"] is None
        assert info["example"]["horizon"] == 12 and info["example"]["levels"] == LEVELS, info["example"]
    assert rt.models.cache.stats().loads == 0


async def test_code_bearing_forecasters_are_refused_until_an_operator_admits_them(
    plain_registry: dict[str, Any], tmp_path: Any
) -> None:
    settings = Settings(
        home=tmp_path / "home", tracking_uri=plain_registry["uri"], stdio_scopes=["ml:read", "ml:infer"]
    )
    settings.ensure_home()  # a state DB of its own: nothing admitted yet
    rt = Runtime(settings)
    async with Client(build_server(rt)) as c:
        for name in ("sm-sarimax", "sm-ets", "pf-yhat-style"):
            err, msg = await call(c, "ml_forecast", {"model": f"{name}@1", "horizon": 3})
            assert err and "no operator admitted it" in msg and f"mlgate models admit {name} 1" in msg, msg
        assert rt.models.cache.stats().loads == 0
        done = subprocess.run(
            [sys.executable, "-m", "mlgate", "models", "admit", "sm-sarimax", "1"],
            env=mlgate_env(settings.home, MLGATE_TRACKING_URI=settings.tracking),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0 and "admitted sm-sarimax@1" in done.stdout, done.stderr
        err, info = await call(c, "ml_model_info", {"model": "sm-sarimax@1"})
        assert not err and "mlgate models" in info["admitted_by"], info
        err, out = await call(c, "ml_forecast", {"model": "sm-sarimax@1", "horizon": 3})
        assert not err and len(out["forecast"]) == 3, out
        err, msg = await call(c, "ml_forecast", {"model": "sm-ets@1", "horizon": 3})
        assert err and "no operator admitted it" in msg, msg  # one admission admits one version
    await rt.aclose()


def _bands(out: dict[str, Any]) -> list[tuple[float, list[float], list[float]]]:
    return [(b["level"], b["lower"], b["upper"]) for b in out["intervals"]]


def _same(out: dict[str, Any], point: Any, bands: list[tuple[Any, Any]]) -> None:
    np.testing.assert_allclose(out["forecast"], np.asarray(point, dtype=float), rtol=0, atol=1e-6)
    got = _bands(out)
    assert [b[0] for b in got] == LEVELS
    for (_, lower, upper), (lo, hi) in zip(got, bands, strict=True):
        np.testing.assert_allclose(lower, np.asarray(lo, dtype=float), rtol=0, atol=1e-6)
        np.testing.assert_allclose(upper, np.asarray(hi, dtype=float), rtol=0, atol=1e-6)


def _library(reg: dict[str, Any], name: str, h: int, history: list[float] | None) -> tuple[Any, list[Any]]:
    """The library's own point forecast and (lower, upper) per level."""
    fitted = reg["fitted"]
    kind = name.split("-", 1)[1]
    if kind in ("sarimax", "arima"):
        res = fitted[kind] if history is None else fitted[kind].apply(endog=np.asarray(history))
        own = res.get_forecast(h)
        cis = [np.asarray(own.conf_int(alpha=1 - lv)) for lv in LEVELS]
        return own.predicted_mean, [(c[:, 0], c[:, 1]) for c in cis]
    if kind in ("ets", "ets-mul"):
        res = fitted[kind]
        n = int(res.nobs)
        own = res.get_prediction(start=n, end=n + h - 1, rng=np.random.default_rng(0))
        cis = [np.asarray(own.pred_int(alpha=1 - lv)) for lv in LEVELS]
        return own.predicted_mean, [(c[:, 0], c[:, 1]) for c in cis]
    if kind == "holt-winters":
        res = fitted[kind]
        sims = np.asarray(res.simulate(h, anchor="end", repetitions=1000, rng=np.random.default_rng(0)))
        want = [np.quantile(sims, [(1 - lv) / 2, (1 + lv) / 2], axis=1) for lv in LEVELS]
        return res.forecast(h), [(w[0], w[1]) for w in want]
    if kind == "prophet":
        model = fitted["prophet"]
        future = model.make_future_dataframe(periods=h, freq="MS", include_history=False)
        out: list[Any] = []
        for level in LEVELS:
            model.interval_width = level
            np.random.seed(0)
            own = model.predict(future)
            out.append((own["yhat_lower"], own["yhat_upper"]))
        return own["yhat"], out
    y = np.asarray(history if history is not None else reg["series"].to_numpy(), dtype=float)
    point = drift_forecast(y, h, LEVELS[0])[0]
    return point, [
        (point - drift_forecast(y, h, lv)[1], point + drift_forecast(y, h, lv)[1]) for lv in LEVELS
    ]


@pytest.mark.parametrize("name", FORECASTERS)
async def test_ml_forecast_equals_the_library(
    client: Any, rt: Runtime, home: Home, plain_registry: dict[str, Any], name: str
) -> None:
    await admitted(client, rt, home)
    history = [
        float(v) for v in plain_registry["series"].to_numpy()[-30:] + 5.0
    ]  # shifted: a different state
    takes_history = name in ("sm-sarimax", "sm-arima", "pf-statsforecast-style", "pf-yhat-style")
    args: dict[str, Any] = {"model": f"{name}@1", "horizon": 7, "levels": LEVELS}
    err, out = await call(client, "ml_forecast", {**args, "history": history} if takes_history else args)
    assert not err, out
    assert out["model"]["name"] == name and out["horizon"] == 7 and len(out["forecast"]) == 7
    _same(out, *_library(plain_registry, name, 7, history if takes_history else None))
    if name in ("sm-sarimax", "sm-arima", "pf-yhat-style"):  # the horizon alone: from the model's own data
        err, own = await call(client, "ml_forecast", args)
        assert not err, own
        _same(own, *_library(plain_registry, name, 7, None))
    if not takes_history:
        err, msg = await call(client, "ml_forecast", {**args, "history": history})
        assert err and "history" in msg, msg


@pytest.mark.parametrize("name", FORECASTERS)
async def test_the_example_works_as_given(
    client: Any, rt: Runtime, home: Home, plain_registry: dict[str, Any], name: str
) -> None:
    await admitted(client, rt, home)
    err, info = await call(client, "ml_model_info", {"model": f"{name}@1"})
    assert not err, info
    example = info["example"]
    err, out = await call(client, "ml_forecast", example)
    assert not err, (example, out)
    _same(out, *_library(plain_registry, name, 12, example.get("history")))
    if name.startswith("pf-"):  # the stored input example (two years of history) is what it sends
        assert example["history"] == pytest.approx(list(plain_registry["series"].to_numpy()[-24:]))


async def test_versions_that_are_not_forecasters_say_so(client: Any, rt: Runtime, home: Home) -> None:
    await admitted(client, rt, home)
    err, msg = await call(client, "ml_forecast", {"model": "sm-ols@1", "horizon": 3})
    assert err and "not a forecaster" in msg, msg
    err, msg = await call(client, "ml_forecast", {"model": "pf-no-params@1", "horizon": 3})
    assert err and "declares no 'horizon' parameter" in msg, msg
