"""Each flavor through mlgate's adapter gives the library's own numbers, and the stored example works."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pytest

from mlgate.records.checks import to_rows
from tests._support.flavors import LIMITS, Logged, close, load, records_of, rows_for

PREDICTORS = ["sk_numeric", "sk_columns", "sk_typed", "xgb_regressor", "catboost_regressor"]
CLASSIFIERS = ["sk_classifier", "xgb_classifier", "lgbm_classifier"]


@pytest.mark.parametrize("name", PREDICTORS)
def test_predictions_equal_the_library(registry: dict[str, Logged], name: str) -> None:
    logged = registry[name]
    loaded = load(logged)
    rows = rows_for(loaded, records_of(logged.frame))
    got = cast(Any, loaded.impl).predict(rows)
    assert close(got, logged.model.predict(logged.frame))
    assert close(cast(Any, loaded.impl).predict(rows[:1]), logged.model.predict(logged.frame.iloc[:1]))


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_probabilities_equal_the_library(registry: dict[str, Logged], name: str) -> None:
    logged = registry[name]
    loaded = load(logged)
    labels, dists = cast(Any, loaded.impl).classify(rows_for(loaded, records_of(logged.frame)))
    classes = [str(c) for c in logged.model.classes_]
    proba = logged.model.predict_proba(logged.frame)
    assert list(dists[0]) == classes
    assert close([[d[c] for c in classes] for d in dists], proba)
    assert labels == [str(c) for c in logged.model.predict(logged.frame).ravel()]


def test_sklearn_classifier_has_its_real_labels(registry: dict[str, Logged]) -> None:
    labels, dists = cast(Any, load(registry["sk_classifier"]).impl).classify(
        to_rows([{"age": 50.0, "bmi": 25.0}], load(registry["sk_classifier"]).info.features, **LIMITS)
    )
    assert set(dists[0]) == {"low", "mid", "high"} and labels[0] in {"low", "mid", "high"}


def test_onnx_zipmap_equals_onnxruntime(registry: dict[str, Logged]) -> None:
    import onnxruntime as ort

    logged = registry["onnx_zipmap"]
    loaded = load(logged)
    x = np.asarray(logged.frame, dtype=np.float32)
    session = ort.InferenceSession(str(logged.path / "model.onnx"), providers=["CPUExecutionProvider"])
    label_out, zipmap = session.run(None, {session.get_inputs()[0].name: x})
    records = [{"f0": float(a), "f1": float(b)} for a, b in x.tolist()]
    labels, dists = cast(Any, loaded.impl).classify(rows_for(loaded, records))
    assert labels == [str(v) for v in label_out.tolist()]
    assert list(dists[0]) == ["0", "1"]
    assert close([[d["0"], d["1"]] for d in dists], [[m[0], m[1]] for m in zipmap])


def test_xgboost_without_signature_takes_the_booster_names(registry: dict[str, Logged]) -> None:
    loaded = load(registry["xgb_regressor"])
    assert [f.name for f in loaded.info.features] == ["age", "bmi"]


@pytest.mark.parametrize(
    "name",
    [
        "sk_numeric",
        "sk_columns",
        "sk_classifier",
        "sk_typed",
        "xgb_classifier",
        "lgbm_classifier",
        "catboost_regressor",
        "onnx_zipmap",
    ],
)
def test_the_stored_example_works_as_given(registry: dict[str, Logged], name: str) -> None:
    loaded = load(registry[name])
    example: Any = loaded.extra["example"]
    assert example and len(example) == 3
    rows = to_rows(example, loaded.info.features, **LIMITS)
    if "classifier" in loaded.info.interfaces:
        labels, dists = cast(Any, loaded.impl).classify(rows)
        assert len(labels) == 3 and all(abs(sum(d.values()) - 1) < 1e-5 for d in dists)
    else:
        values = cast(Any, loaded.impl).predict(rows)
        assert len(values) == 3 and all(isinstance(v, float) for v in values)


@pytest.mark.parametrize("name", ["sk_typed", "sk_columns"])
def test_pyfunc_fallback_sends_the_signature_dtypes(registry: dict[str, Logged], name: str) -> None:
    """MLflow's pyfunc enforces the signature: long, boolean and string columns must arrive as such."""
    from mlgate.adapters.pyfunc import PyfuncModel, load_pyfunc
    from mlgate.models.mlmodel import describe_dir

    logged = registry[name]
    desc = describe_dir(logged.path)
    model = PyfuncModel(load_pyfunc(logged.path), desc.features, desc.tensor_dtype)
    rows = to_rows(records_of(logged.frame), desc.features, **LIMITS)
    assert rows.dtype == object
    assert close(model.predict(rows), logged.model.predict(logged.frame))


def test_catboost_takes_its_columns_split_and_answers_exactly_as_from_a_frame(
    registry: dict[str, Logged],
) -> None:
    """The FeaturesData path (no DataFrame) is bit-for-bit CatBoost's answer on the frame, including
    categories it never saw, non-ASCII text, huge and tiny numbers, and records sent in another order."""
    import pandas as pd

    from mlgate.adapters.catboost import CatBoostModel

    logged = registry["catboost_regressor"]
    loaded = load(logged)
    impl = cast(CatBoostModel, loaded.impl)
    assert impl._split is not None  # the test model's text column comes last: the split path
    rng = np.random.default_rng(11)
    n = 400
    frame = pd.DataFrame(
        {
            "age": rng.normal(50, 10, n) * rng.choice([1.0, 1e6, 1e-6], n),
            "bmi": rng.normal(25, 4, n),
            "region": rng.choice(["north", "south", "east", "wést", "", "ünseen"], n),
        }
    )
    recs = [dict(reversed(list(r.items()))) for r in records_of(frame)]  # keys in another order
    got = impl.predict(to_rows(recs, loaded.info.features, **LIMITS))
    assert got == logged.model.predict(frame).tolist()


def test_catboost_split_plan_only_when_the_text_columns_come_last() -> None:
    from mlgate.adapters.catboost import split_plan
    from mlgate.domain import Feature

    feats = [Feature("region", "string"), Feature("age"), Feature("bmi", "float")]
    # rows in feature order; the model's columns by name
    assert split_plan(feats, ["age", "bmi", "region"], [2], False) == ([1, 2], [0])
    assert split_plan(feats, ["region", "age", "bmi"], [0], False) is None  # text first: a DataFrame
    assert split_plan(feats, ["age", "bmi", "region"], [2], True) is None  # text/embedding features too
    assert split_plan(feats, ["age", "bmi", "region"], [], False) is None  # no categories: numbers path
    ints = [Feature("age", "long"), Feature("bmi"), Feature("region", "string")]
    assert split_plan(ints, ["age", "bmi", "region"], [2], False) is None  # an integer column: a DataFrame
    renamed = [Feature("a"), Feature("b"), Feature("c", "string")]
    assert split_plan(renamed, ["age", "bmi", "region"], [2], False) == ([0, 1], [2])  # by position


def test_lightgbm_answers_from_its_booster_exactly_as_through_the_wrapper() -> None:
    """A scikit-learn-API LightGBM model is called through its booster on the rows, to the bit the wrapper's
    answer (two and three classes, a regressor); not when the wrapper would pass a prediction parameter on,
    or its objective is a function (its predict_proba is then raw scores)."""
    import lightgbm

    from mlgate.adapters.lightgbm import LightGBMModel
    from mlgate.domain import Feature

    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (600, 3))
    feats = [Feature(f"f{i}") for i in range(3)]
    small: dict[str, Any] = {"n_estimators": 5, "num_leaves": 4, "verbose": -1}
    for y in (x[:, 0] > 0, np.digitize(x[:, 1], [-0.5, 0.5])):
        clf = lightgbm.LGBMClassifier(**small).fit(x, y)
        impl = LightGBMModel(clf, feats)
        assert impl._booster is clf.booster_
        _, dists = impl.classify(x)
        assert np.array_equal(np.array([list(d.values()) for d in dists]), clf.predict_proba(x))
    reg = lightgbm.LGBMRegressor(**small).fit(x, x[:, 2])
    impl = LightGBMModel(reg, feats)
    assert impl._booster is reg.booster_ and impl.predict(x) == np.asarray(reg.predict(x)).tolist()
    early = lightgbm.LGBMClassifier(**small, pred_early_stop=True).fit(x, x[:, 0] > 0)
    assert LightGBMModel(early, feats)._booster is None

    def objective(y: Any, p: Any) -> tuple[Any, Any]:
        return p - y, np.ones_like(p)

    own = lightgbm.LGBMClassifier(**small, objective=objective).fit(x, x[:, 0] > 0)
    assert LightGBMModel(own, feats)._booster is None
