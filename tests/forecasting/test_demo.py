"""The demo forecaster (statsmodels SARIMAX) and segmenter (ruptures) load and answer like their libraries."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlgate.adapters.forecasting.common import forecaster_kind
from mlgate.adapters.forecasting.dispatch import load_forecaster
from mlgate.config import Settings
from tests._support.forecasting import read_mlmodel


def _local(home: Path, name: str) -> tuple[Path, dict[str, str]]:
    import mlflow.artifacts
    from mlflow import MlflowClient

    uri = Settings(home=home).tracking
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    mv = client.get_model_version(name, "1")
    src = client.get_model_version_download_uri(name, "1")
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=src, tracking_uri=uri)), dict(mv.tags)


def test_demo_forecaster_is_a_statsmodels_sarimax(demo_home: Path) -> None:
    import statsmodels.iolib.api as smio

    path, tags = _local(demo_home, "demo-forecaster")
    mlmodel = read_mlmodel(path)
    assert forecaster_kind(mlmodel) == "statsmodels" and "python_function" in mlmodel["flavors"]
    assert tags.get("mlgate.interfaces") == "forecaster"  # needs the loader's forecaster dispatch
    fc = load_forecaster(path, mlmodel)
    assert fc is not None
    example = mlmodel["metadata"]["mlgate"]["example"]
    point, bands = fc.forecast(example["history"], 12, [0.8, 0.95])
    own = smio.load_pickle(str(path / "model.statsmodels")).apply(endog=np.asarray(example["history"]))
    want = own.get_forecast(12)
    np.testing.assert_allclose(point, want.predicted_mean, rtol=0, atol=1e-6)
    np.testing.assert_allclose(bands[1][1], np.asarray(want.conf_int(alpha=0.05))[:, 0], rtol=0, atol=1e-6)
    (_, lo80, hi80), (_, lo95, hi95) = bands
    assert all(a < b <= p <= c < d for a, b, p, c, d in zip(lo95, lo80, point, hi80, hi95, strict=True))
    assert 100 < point[0] < 250  # the series runs ~190-200 at its end


def test_demo_segmenter_is_ruptures(demo_home: Path) -> None:
    import json

    import ruptures as rpt

    from mlgate.adapters.changepoint import robust_sigma
    from mlgate.adapters.native import load_native

    path, tags = _local(demo_home, "demo-segmenter")
    flavor = read_mlmodel(path)["flavors"]["mlgate"]
    assert flavor["kind"] == "ruptures" and tags.get("mlgate.interfaces") == "segmenter"
    seg = load_native(path, flavor)
    series = json.loads(json.dumps(read_mlmodel(path)["metadata"]["mlgate"]["example"]["series"]))
    breaks, segments = seg.segment(series)
    assert len(segments) == 4 and [round(m) for _, _, m in segments] == [10, 13, 11, 15]
    assert len(breaks) == 3 and all(abs(b - t) <= 5 for b, t in zip(breaks, [80, 150, 230], strict=True))
    x = np.asarray(series)
    pen = seg.params["penalty"] * robust_sigma(x) ** 2 * np.log(x.size)
    own = rpt.KernelCPD(kernel="linear", min_size=seg.params["min_size"]).fit(x - x.mean()).predict(pen=pen)
    assert breaks == [int(b) for b in own[:-1]]
    assert seg.predict(np.asarray(series)[:, None]) == breaks  # the pyfunc entry plain MLflow uses
