"""The no-load description of versions logged by plain MLflow code: interfaces, typed features, example."""

from __future__ import annotations

import pytest

from mlgate.domain import Feature
from mlgate.models.mlmodel import describe_dir
from tests._support.flavors import Logged

NUM = [Feature("age"), Feature("bmi")]
EXPECTED = {
    "sk_numeric": ("sklearn", ("predictor",), NUM),
    "sk_columns": ("sklearn", ("predictor",), [*NUM, Feature("region", "string")]),
    "sk_classifier": ("sklearn", ("classifier",), NUM),
    "sk_typed": (
        "sklearn",
        ("predictor",),
        [Feature("visits", "long"), Feature("smoker", "boolean"), Feature("age")],
    ),
    # no signature, no example: the booster's own names, read from the UBJSON file without xgboost
    "xgb_regressor": ("xgboost", ("predictor",), NUM),
    "xgb_classifier": ("xgboost", ("classifier",), NUM),
    "lgbm_classifier": ("lightgbm", ("classifier",), NUM),
    "catboost_regressor": ("catboost", ("predictor",), [*NUM, Feature("region", "string")]),
    "onnx_zipmap": ("onnx", ("classifier",), [Feature("f0", "float"), Feature("f1", "float")]),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_description_without_loading(registry: dict[str, Logged], name: str) -> None:
    flavor, interfaces, features = EXPECTED[name]
    d = describe_dir(registry[name].path)
    assert (d.flavor, d.interfaces, d.features) == (flavor, interfaces, features)
    if name == "xgb_regressor":
        assert d.example is None
    else:
        assert d.example and len(d.example) == 3
        assert list(d.example[0]) == [f.name for f in features]


def test_description_never_imports_the_model_libraries(registry: dict[str, Logged]) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from mlgate.models.mlmodel import describe_dir\n"
        f"for p in {[str(v.path) for v in registry.values()]!r}: describe_dir(Path(p))\n"
        "bad = [m for m in ('mlflow', 'sklearn', 'xgboost', 'lightgbm', 'catboost', 'onnxruntime', 'skops',"
        " 'pandas', 'cloudpickle') if m in sys.modules]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_description_agrees_with_the_loaded_adapter(registry: dict[str, Logged]) -> None:
    from tests._support.flavors import load

    for name, logged in registry.items():
        d = describe_dir(logged.path)
        loaded = load(logged)
        assert loaded.info.interfaces == d.interfaces, name
        assert loaded.info.features == (d.features or loaded.info.features), name
        assert loaded.info.flavor == d.flavor, name
