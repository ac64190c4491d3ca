"""describe(): an MLmodel mapping (+ example, + file header) → interfaces, typed features, example. Pure."""

from __future__ import annotations

import json
from typing import Any

from mlgate.domain import Feature
from mlgate.models.headers import Header, onnx_is_classifier, skops_schema_header
from mlgate.models.mlmodel import describe, example_records, signature_inputs


def sig(inputs: list[dict[str, Any]], outputs: list[dict[str, Any]] | None = None) -> dict[str, object]:
    return {"inputs": json.dumps(inputs), "outputs": json.dumps(outputs) if outputs else None}


def test_columns_with_every_type() -> None:
    cols = [
        {"name": n, "type": t}
        for n, t in [
            ("a", "double"),
            ("b", "float"),
            ("c", "long"),
            ("d", "integer"),
            ("e", "boolean"),
            ("f", "string"),
            ("g", "datetime"),
        ]
    ]
    feats, dtype = signature_inputs({"signature": sig(cols)})
    assert [(f.name, f.type) for f in feats] == [(c["name"], c["type"]) for c in cols] and dtype is None


def test_one_unnamed_tensor_becomes_f0_to_fn() -> None:
    spec = [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}]
    feats, dtype = signature_inputs({"signature": sig(spec)})
    assert (
        feats == [Feature("f0", "float"), Feature("f1", "float"), Feature("f2", "float")]
        and dtype == "float32"
    )
    image = [{"type": "tensor", "tensor-spec": {"dtype": "uint8", "shape": [-1, 28, 28]}}]
    assert signature_inputs({"signature": sig(image)}) == ([], None)


def test_model_class_decides_for_boosters() -> None:
    def flavor(name: str, key: str, cls: str) -> dict[str, object]:
        return {"flavors": {name: {key: cls}, "python_function": {"loader_module": f"mlflow.{name}"}}}

    assert describe(flavor("xgboost", "model_class", "xgboost.sklearn.XGBClassifier")).interfaces == (
        "classifier",
    )
    assert describe(flavor("xgboost", "model_class", "xgboost.core.Booster")).interfaces == ("predictor",)
    assert describe(flavor("lightgbm", "model_class", "lightgbm.sklearn.LGBMClassifier")).interfaces == (
        "classifier",
    )
    assert describe(flavor("catboost", "model_type", "CatBoostRegressor")).interfaces == ("predictor",)


def test_pyfunc_only_is_a_predictor_with_typed_features() -> None:
    mlmodel = {
        "flavors": {"python_function": {"loader_module": "mlflow.pyfunc.model"}},
        "signature": sig([{"name": "n", "type": "long"}]),
    }
    d = describe(mlmodel)
    assert (d.flavor, d.interfaces, d.features) == ("pyfunc", ("predictor",), [Feature("n", "long")])


def test_sklearn_without_a_header_reads_the_output_type_and_predict_fn() -> None:
    base = {"flavors": {"sklearn": {"serialization_format": "cloudpickle"}, "python_function": {}}}
    assert describe(
        {**base, "signature": sig([{"name": "x", "type": "double"}], [{"type": "long"}])}
    ).interfaces == ("classifier",)
    assert describe(
        {**base, "signature": sig([{"name": "x", "type": "double"}], [{"type": "double"}])}
    ).interfaces == ("predictor",)
    proba = {"flavors": {"sklearn": {}, "python_function": {"predict_fn": "predict_proba"}}}
    assert describe(proba).interfaces == ("classifier",)


def test_header_wins_and_gives_features_when_there_is_no_signature() -> None:
    header = Header(model_class="onnx", interfaces=("classifier",), features=(Feature("f0", "float"),))
    d = describe({"flavors": {"onnx": {}}}, [[1.5]], header)
    assert d.interfaces == ("classifier",) and d.features == [Feature("f0", "float")]
    assert d.example == [{"f0": 1.5}]


def test_example_shapes() -> None:
    feats = [Feature("a"), Feature("b")]
    assert example_records({"columns": ["a", "b"], "data": [[1, 2]]}, feats) == [{"a": 1, "b": 2}]
    assert example_records([[1, 2], [3, 4]], feats) == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    assert example_records({"a": [1, 2], "b": [3, 4]}, feats) == [{"a": 1, "b": 3}, {"a": 2, "b": 4}]
    assert example_records({"inputs": [[1, 2]]}, feats) == [{"a": 1, "b": 2}]
    assert example_records([[1, 2, 3]], feats) is None
    assert example_records("text", feats) is None


def test_features_typed_from_the_example_when_there_is_no_signature() -> None:
    example = {"columns": ["n", "ok", "x", "s"], "data": [[1, True, 0.5, "a"], [2, False, 1, "b"]]}
    d = describe({"flavors": {"xgboost": {"model_class": "xgboost.sklearn.XGBRegressor"}}}, example)
    assert d.features == [
        Feature("n", "long"),
        Feature("ok", "boolean"),
        Feature("x"),
        Feature("s", "string"),
    ]


def test_skops_schema_of_a_pipeline() -> None:
    def node(cls: str, module: str, state: dict[str, object]) -> dict[str, object]:
        return {"__class__": cls, "__module__": module, "content": {"__class__": "dict", "content": state}}

    def step(name: str, est: dict[str, object]) -> dict[str, object]:
        return {"__class__": "tuple", "content": [{"__class__": "str", "content": json.dumps(name)}, est]}

    clf = node("LogisticRegression", "sklearn.linear_model._logistic", {"classes_": {}, "coef_": {}})
    pipe = node(
        "Pipeline",
        "sklearn.pipeline",
        {
            "steps": {
                "content": [step("s", node("StandardScaler", "sklearn.preprocessing", {})), step("m", clf)]
            }
        },
    )
    assert skops_schema_header(pipe) == Header(
        model_class="sklearn.pipeline.Pipeline", interfaces=("classifier",)
    )
    ridge = node("Ridge", "sklearn.linear_model._ridge", {"coef_": {}})
    assert skops_schema_header(ridge).interfaces == ("predictor",)
    svc = node("LinearSVC", "sklearn.svm", {"classes_": {}})
    assert skops_schema_header(svc).interfaces == ("predictor",)  # classes but no predict_proba
    text = node(
        "Pipeline",
        "sklearn.pipeline",
        {
            "steps": {
                "content": [
                    step("v", node("TfidfVectorizer", "sklearn.feature_extraction.text", {})),
                    step("m", clf),
                ]
            }
        },
    )
    assert skops_schema_header(text).interfaces == ("analyzer",)


def test_onnx_output_roles() -> None:
    assert onnx_is_classifier(["tensor(int64)", "seq(map(int64,tensor(float)))"])
    assert onnx_is_classifier(["tensor(string)", "tensor(float)"])
    assert not onnx_is_classifier(["tensor(float)"])
    assert not onnx_is_classifier(["tensor(float)", "tensor(float)"])  # two regression outputs
