"""Bad records are refused before the model runs, naming the record, the feature, the type and what came."""

from __future__ import annotations

from typing import Any, cast

import pytest

from mlgate.errors import BackendError, InvalidInput
from mlgate.records.checks import to_rows
from tests._support.flavors import GOOD_TYPED, LIMITS, Logged, load


def refusal(logged: Logged, records: Any) -> str:
    loaded = load(logged)
    with pytest.raises(InvalidInput) as err:
        to_rows(records, loaded.info.features, **LIMITS)
    return str(err.value)


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"visits": 2.5}, "record 1, feature 'visits': expected an integer (long, 64-bit), got float 2.5"),
        ({"visits": "3"}, "record 1, feature 'visits': expected an integer (long, 64-bit), got str '3'"),
        ({"visits": True}, "record 1, feature 'visits': expected an integer (long, 64-bit), got bool True"),
        ({"smoker": 1}, "record 1, feature 'smoker': expected true or false (boolean), got int 1"),
        ({"smoker": None}, "record 1, feature 'smoker': expected true or false (boolean), got null"),
        ({"age": "41"}, "record 1, feature 'age': expected a number (double), got str '41'"),
        ({"age": float("inf")}, "record 1, feature 'age': is inf; send finite numbers only"),
        ({"age": float("nan")}, "record 1, feature 'age': is nan"),
        ({"visits": 2**70}, "record 1, feature 'visits': 1180591620717411303424 does not fit its type long"),
    ],
)
def test_typed_columns(registry: dict[str, Logged], bad: dict[str, Any], says: str) -> None:
    assert says in refusal(registry["sk_typed"], [GOOD_TYPED, {**GOOD_TYPED, **bad}])


def test_an_integral_float_is_taken_for_a_long(registry: dict[str, Logged]) -> None:
    loaded = load(registry["sk_typed"])
    rows = to_rows([{**GOOD_TYPED, "visits": 3.0}], loaded.info.features, **LIMITS)
    assert rows[0, 0] == 3 and type(rows[0, 0]) is int
    assert cast(Any, loaded.impl).predict(rows) == cast(Any, loaded.impl).predict(
        to_rows([GOOD_TYPED], loaded.info.features, **LIMITS)
    )


def test_string_column(registry: dict[str, Logged]) -> None:
    good = {"age": 50.0, "bmi": 25.0, "region": "north"}
    said = refusal(registry["sk_columns"], [good, {**good, "region": 3}])
    assert "record 1, feature 'region': expected a string, got int 3" in said
    said = refusal(registry["sk_columns"], [{"age": 50.0, "bmi": 25.0}])
    assert "record 0: missing 'region'" in said


def test_numeric_fast_path_names_the_feature(registry: dict[str, Logged]) -> None:
    said = refusal(registry["xgb_classifier"], [{"age": 50.0, "bmi": float("inf")}])
    assert "record 0, feature 'bmi' is inf" in said
    said = refusal(registry["xgb_classifier"], [{"age": 50.0, "bmi": "fat"}])
    assert "record 0, feature 'bmi': expected a number, got str 'fat'" in said
    said = refusal(registry["xgb_classifier"], [{"age": 50.0, "bmi": 25.0, "zip": 1}])
    assert "unexpected 'zip'" in said


def test_a_value_a_float32_input_cannot_hold_is_refused(registry: dict[str, Logged]) -> None:
    said = refusal(registry["onnx_zipmap"], [{"f0": 1.0, "f1": 1.0}, {"f0": 1e308, "f1": 0.5}])
    assert "record 1, feature 'f0'" in said and "out of range for its type float (32-bit" in said


@pytest.mark.parametrize("linear", [True, False])
def test_a_non_finite_output_is_an_error_that_says_so(linear: bool) -> None:
    import numpy as np
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from mlgate.adapters.sklearn import SklearnModel
    from mlgate.domain import Feature

    x = np.arange(10.0).reshape(-1, 1)
    est = LinearRegression().fit(x, 1000 * x[:, 0])
    model = SklearnModel(est if linear else make_pipeline(FunctionTransformer(), est), [Feature("x")])
    rows = to_rows([{"x": 1.0}, {"x": 1e306}], model.features, **LIMITS)  # finite in, 1e309 out
    with pytest.raises(BackendError) as err:
        model.predict(rows)
    assert "output for record 1 is inf (not a finite number)" in str(err.value)


def test_unknown_model_types_are_refused_not_imported(registry: dict[str, Logged], tmp_path: Any) -> None:
    """MLflow's xgboost loader instantiates whatever class the MLmodel file names; mlgate only known ones."""
    import shutil

    import yaml

    from mlgate.domain import VersionInfo
    from mlgate.errors import Refused
    from mlgate.models.loader import load_model_dir

    folder = tmp_path / "m"
    shutil.copytree(registry["xgb_classifier"].path, folder)
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    mlmodel["flavors"]["xgboost"]["model_class"] = "subprocess.Popen"
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with pytest.raises(Refused, match=r"subprocess\.Popen"):
        load_model_dir(VersionInfo(name="x", version=1, interfaces=(), flavor="", source=""), folder, 1)
