"""Records in columns (``{"columns", "rows"}``) make the same rows, and meet the same refusals, as records."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import pydantic_core
import pytest

from mlgate.config import Settings
from mlgate.domain import Distributions
from mlgate.errors import InvalidInput
from mlgate.records.checks import to_matrix, to_rows
from mlgate.serving.runtime import Runtime
from tests._support.flavors import (
    GOOD_TYPED,
    INTERFACES,
    LIMITS,
    Logged,
    columns_of,
    load,
    records,
    records_of,
    team_data,
)


@pytest.fixture
async def rt(registry: dict[str, Logged], registry_root: Path, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A runtime over the plain-MLflow registry (its own home)."""
    settings = Settings(home=tmp_path / "home", tracking_uri=f"sqlite:///{registry_root}/mlflow.db")
    settings.ensure_home()
    runtime = Runtime(settings)
    yield runtime
    await runtime.aclose()


def said(features: Any, batch: Any) -> str:
    with pytest.raises(InvalidInput) as err:
        to_rows(batch, features, **LIMITS)
    return str(err.value)


@pytest.mark.parametrize("name", sorted(INTERFACES))
def test_same_rows_and_same_answers_on_every_flavor(registry: dict[str, Logged], name: str) -> None:
    loaded = load(registry[name])
    recs = records(registry[name])
    a = to_rows(recs, loaded.info.features, **LIMITS)
    b = to_rows(columns_of(recs), loaded.info.features, **LIMITS)
    assert a.dtype == b.dtype and a.shape == b.shape and a.tolist() == b.tolist()
    assert [type(v) for v in a.ravel().tolist()] == [type(v) for v in b.ravel().tolist()]
    call = (
        cast(Any, loaded.impl).classify
        if "classifier" in loaded.info.interfaces
        else cast(Any, loaded.impl).predict
    )
    assert call(a) == call(b)


@pytest.mark.parametrize(
    "bad",
    [
        {"visits": 2.5},
        {"visits": "3"},
        {"visits": True},
        {"smoker": 1},
        {"smoker": None},
        {"age": "41"},
        {"age": float("inf")},
        {"age": float("nan")},
        {"visits": 2**70},
        {"visits": 10**400},
        {"age": 10**400},  # beyond float64: refused by name, not an OverflowError
        {"age": [1.0]},
    ],
)
def test_typed_refusals_are_the_records_refusals(registry: dict[str, Logged], bad: dict[str, Any]) -> None:
    feats = load(registry["sk_typed"]).info.features
    recs = [GOOD_TYPED, {**GOOD_TYPED, **bad}, {**GOOD_TYPED, "visits": "first bad is row 1"}]
    got = said(feats, columns_of(recs))
    assert got == said(feats, recs) and "record 1, feature" in got, got


@pytest.mark.parametrize("value", ["1.5", True, None, float("inf"), {"x": 1}])
def test_numeric_refusals_are_the_records_refusals(registry: dict[str, Logged], value: Any) -> None:
    feats = load(registry["xgb_classifier"]).info.features
    recs = [{"age": 50.0, "bmi": 20.0}, {"age": 50.0, "bmi": value}]
    got = said(feats, columns_of(recs))
    assert got == said(feats, recs) and "record 1, feature 'bmi'" in got, got


def test_shape_refusals_say_what_to_send(registry: dict[str, Logged]) -> None:
    feats = load(registry["xgb_classifier"]).info.features
    assert "missing 'bmi'" in said(feats, {"columns": ["age"], "rows": [[1.0]]})
    assert "unexpected 'zip'" in said(feats, {"columns": ["age", "bmi", "zip"], "rows": [[1.0, 2.0, 3.0]]})
    assert "row 1 has 1 values; columns name 2" in said(
        feats, {"columns": ["age", "bmi"], "rows": [[1.0, 2.0], [1.0]]}
    )
    assert "row 0 has a dict" in said(feats, {"columns": ["age", "bmi"], "rows": [{"age": 1.0}]})
    assert "named twice" in said(feats, {"columns": ["age", "age"], "rows": [[1.0, 2.0]]})
    assert "only columns and rows" in said(feats, {"columns": ["age", "bmi"], "rows": [[1.0, 2.0]], "x": 1})
    assert "non-empty list of rows" in said(feats, {"columns": ["age", "bmi"], "rows": []})
    with pytest.raises(InvalidInput) as err:
        to_rows({"columns": ["age", "bmi"], "rows": [[1.0, 2.0]] * 3}, feats, max_rows=2, max_cells=99)
    assert "more than the limit of 2" in str(err.value)


def test_drift_and_parity_matrices_take_columns(registry: dict[str, Logged]) -> None:
    logged = registry["xgb_regressor"]
    feats = load(logged).info.features
    recs = records_of(logged.frame)
    a = to_matrix(recs, feats, **LIMITS)
    b = to_matrix(columns_of(recs), feats, **LIMITS)
    assert a.dtype == b.dtype == np.float64 and np.array_equal(a, b)
    typed = load(registry["sk_typed"]).info.features  # numbers only here: a boolean is refused in both forms
    recs = records_of(registry["sk_typed"].frame)
    with pytest.raises(InvalidInput) as by_records:
        to_matrix(recs, typed, **LIMITS)
    with pytest.raises(InvalidInput) as by_columns:
        to_matrix(columns_of(recs, reverse=False), typed, **LIMITS)
    assert str(by_records.value) == str(by_columns.value)


def test_onnx_zipmap_answers_from_the_tensor_exactly_as_from_the_maps(registry: dict[str, Logged]) -> None:
    """The graph is run for ZipMap's input tensor (no per-row maps); its answer is the maps' answer."""
    impl = cast(Any, load(registry["onnx_zipmap"]).impl)
    assert impl._tensor is not None, "ZipMap's input was not exposed"
    rows = to_rows(records(registry["onnx_zipmap"]), load(registry["onnx_zipmap"]).info.features, **LIMITS)
    fast = impl.classify(rows)
    impl._tensor = None  # the maps, as the graph outputs them
    assert impl.classify(rows) == fast


@pytest.mark.parametrize(
    ("raw", "classes"),
    [
        (np.array([1, 0, 1, 1], dtype=np.int64), ["0", "1"]),  # the graph's labels: the most likely class
        (np.array([1, 1, 1, 1], dtype=np.int64), ["0", "1"]),  # a graph whose label is not the argmax
        (np.array([1, 0, 1, 1], dtype=np.int64), ["00", "01"]),  # str(1) is "1", not a class label
        (np.array([7, 3, 7, 7], dtype=np.int64), ["3", "7"]),
        (np.array(["b", "a", "b", "b"]), ["a", "b"]),  # a string tensor
        (np.array(["b", "a", "b", "b"], dtype=object), ["a", "b"]),
        (np.array([b"b", b"a", b"b", b"b"], dtype=object), ["a", "b"]),  # bytes: str() differs
        (np.array([True, False, True, True]), ["False", "True"]),
        (np.array([1, 0, 1]), ["0", "1"]),  # one label short
    ],
)
def test_onnx_labels_checked_as_a_whole_are_the_labels_one_by_one(raw: Any, classes: list[str]) -> None:
    """Where the label output agrees with the most likely class on every row, the answer is those labels;
    elsewhere the per-row rule decides (the graph's labels when they are class labels, else the argmax)."""
    from mlgate.adapters.onnx import OnnxModel

    proba = np.array([[0.2, 0.8], [0.9, 0.1], [0.4, 0.6], [0.3, 0.7]])
    model = OnnxModel.__new__(OnnxModel)
    model.classes = classes
    labels, _ = model._labelled(proba, raw)
    per_row = list(map(str, raw.tolist()))
    if len(per_row) == 4 and set(per_row) <= set(classes):
        assert labels == per_row
    else:
        assert labels == [classes[j] for j in proba.argmax(axis=1)]


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 9])
def test_distributions_are_dicts_in_class_order(k: int) -> None:
    from mlgate.records.frames import distributions, labelled

    p = np.random.default_rng(k).random((7, k))
    classes = [f"c{j}" for j in range(k)]
    want = [dict(zip(classes, row, strict=True)) for row in p.tolist()]
    got = distributions(p, classes)
    assert got == want and [list(d) for d in got] == [classes] * 7
    assert labelled(p, classes) == ([classes[j] for j in p.argmax(axis=1)], want)


def test_a_number_batch_refuses_what_records_refuse(registry: dict[str, Logged]) -> None:
    """The all-number fast path: a non-finite value, a bool, a string, null, a short row."""
    feats = load(registry["xgb_classifier"]).info.features
    bads: list[Any] = [float("nan"), float("-inf"), True, "1", None]
    for bad in bads:
        recs = [{"age": 50.0, "bmi": 20.0}, {"age": bad, "bmi": 20.0}]
        assert said(feats, columns_of(recs)) == said(feats, recs), bad
    big = [{"age": 2**70, "bmi": 20}]  # integers are numbers: converted as records convert them
    assert to_rows(columns_of(big), feats, **LIMITS).tolist() == to_rows(big, feats, **LIMITS).tolist()
    assert "row 1 has 1 values" in said(feats, {"columns": ["age", "bmi"], "rows": [[1.0, 2.0], [1.0]]})
    swapped = to_rows({"columns": ["bmi", "age"], "rows": [[20.0, 50]]}, feats, **LIMITS)
    assert swapped.dtype == np.float64 and swapped.tolist() == [[50.0, 20.0]]


@pytest.mark.anyio
@pytest.mark.parametrize("name", sorted(INTERFACES))
async def test_the_served_result_is_the_validated_result(
    rt: Runtime,
    registry: dict[str, Logged],
    name: str,
) -> None:
    """The serving call (columns or records) returns what the adapter's answer gives once the result model has
    validated it, to the byte, in both of the SDK's renderings (text and structured); a classifier's answer
    reaches the result as it came (no pair per row, its distributions not copied by validation)."""
    from mlgate.schemas.inference import ClassifyResult, PredictResult
    from mlgate.serving import inference

    logged, ref = registry[name], f"{name}@1"
    recs = records(logged)
    classify = INTERFACES[name] == "classifier"
    serve = inference.classify if classify else inference.predict
    by_columns, by_records = await serve(rt, ref, columns_of(recs)), await serve(rt, ref, recs)
    loaded = load(logged)
    rows = to_rows(recs, loaded.info.features, **LIMITS)
    want: PredictResult | ClassifyResult
    if classify:
        labels, probs = cast(Any, loaded.impl).classify(rows)
        pairs = list(zip(labels, probs, strict=True))  # the per-row pairs the executor used to build
        want = ClassifyResult(
            model=by_columns.model, labels=[a for a, _ in pairs], probabilities=[dict(p) for _, p in pairs]
        )
        assert type(cast(ClassifyResult, by_columns).probabilities) is Distributions
    else:
        want = PredictResult(model=by_columns.model, predictions=cast(Any, loaded.impl).predict(rows))
    for got in (by_columns, by_records):
        assert got.model_dump(mode="json") == want.model_dump(mode="json")
        assert pydantic_core.to_json(got, indent=2) == pydantic_core.to_json(want, indent=2)


def test_distributions_are_marked_only_when_they_are_what_validation_makes() -> None:
    """``Distributions`` (taken by the result model as they are): float64 probabilities and ``str`` labels;
    a slice stays one. Other labels give a plain list, validated as before."""
    from mlgate.records.frames import distributions

    p = np.array([[0.25, 0.75], [0.5, 0.5], [1.0, 0.0]])
    got = distributions(p, ["a", "b"])
    assert type(got) is Distributions and type(got[1:]) is Distributions and got[1:] == got[1:3]
    assert type(distributions(p, cast(Any, [0, 1]))) is list
    assert type(distributions(p.astype(np.float32), ["a", "b"])) is list


@pytest.mark.anyio
async def test_a_batch_of_classify_calls_splits_labels_and_distributions_per_caller() -> None:
    """Through the batcher several callers' rows share one model call; each gets its own rows' labels and
    distributions, sliced from the two lists (still ``Distributions``), as the per-row pairs gave them."""
    import anyio

    from mlgate.records.frames import labelled
    from mlgate.serving.batcher import Batcher
    from mlgate.serving.execution import Classified, _per_row

    calls: list[int] = []

    def classify(rows: Any) -> Any:
        calls.append(len(rows))
        p = np.c_[rows[:, 0] / 10, 1 - rows[:, 0] / 10]
        return labelled(p, ["lo", "hi"])

    batcher = Batcher(_per_row(classify, "classify"), max_batch_size=64, max_wait_ms=50)
    got: dict[int, Any] = {}

    async def one(i: int) -> None:
        got[i] = await batcher.submit(np.array([[i / 2], [i / 3]]))

    async with anyio.create_task_group() as tg:
        for i in range(6):
            tg.start_soon(one, i)
    assert len(calls) < 6 and sum(calls) == 12
    for i, out in got.items():
        assert isinstance(out, Classified) and type(out.probabilities) is Distributions
        alone = classify(np.array([[i / 2], [i / 3]]))
        assert list(out) == list(zip(*alone, strict=True)) and out.labels == alone[0]


@pytest.mark.parametrize("name", ["xgb_regressor", "xgb_classifier", "lgbm_classifier", "catboost_regressor"])
def test_one_thread_per_call_answers_what_the_library_answers_on_its_threads(
    registry: dict[str, Logged], name: str
) -> None:
    """The tree adapters call their library on one thread; on 1,000 rows the numbers are, to the bit, the
    library's own call on the DataFrame with its default threads."""
    logged = registry[name]
    loaded = load(logged)
    frame = team_data(1000)[0][list(logged.frame.columns)]
    rows = to_rows(columns_of(records_of(frame)), loaded.info.features, **LIMITS)
    impl = cast(Any, loaded.impl)
    if INTERFACES[name] == "classifier":
        _, probs = impl.classify(rows)
        got = np.array([list(p.values()) for p in probs])
        assert np.array_equal(got, logged.model.predict_proba(frame))
    else:
        assert np.array_equal(np.asarray(impl.predict(rows)), logged.model.predict(frame))


def test_text_columns_reach_the_model_as_python_strings_with_the_library_answer(
    registry: dict[str, Logged],
) -> None:
    """The frame mlgate builds keeps text as Python strings (object dtype, no pandas 3 str conversion); on
    1,000 rows the numbers are, to the bit, the library's on its own frame (pandas' str dtype)."""
    logged = registry["sk_columns"]
    loaded = load(logged)
    frame = team_data(1000)[0][list(logged.frame.columns)]
    rows = to_rows(columns_of(records_of(frame)), loaded.info.features, **LIMITS)
    impl = cast(Any, loaded.impl)
    assert str(impl.inputs(rows)["region"].dtype) == "object"
    assert np.array_equal(np.asarray(impl.predict(rows)), logged.model.predict(frame))


@pytest.mark.parametrize(
    "rows",
    [
        [[50.0, 1.0], [0.0, False]],  # a bool where the numbers hold 0.0 and 1.0 anyway
        [[1, 0], [1, True]],  # among integers
        [[50.0, 20.0], "ab"],  # a row that is a string as long as the columns
        [[50.0, 20.0], {"age": 1.0, "bmi": 2.0}],  # an object with as many keys
        [[50.0, 20.0], 7],
        [[50.0, 20.0], None],
        [[50.0, 20.0], [10**400, 1.0]],
        [[50.0, 20.0], [[1.0], 1.0]],
    ],
)
def test_the_number_census_finds_what_a_type_census_finds(
    registry: dict[str, Logged], rows: list[Any]
) -> None:
    """``as_numbers`` never looks at most values' types: each of these must still be refused, and by the
    record and feature (or row) the per-value check names."""
    feats = load(registry["xgb_classifier"]).info.features
    got = said(feats, {"columns": ["age", "bmi"], "rows": rows})
    assert "record 1" in got or "row 1" in got, got
    if all(isinstance(r, list) for r in rows):
        recs = [dict(zip(["age", "bmi"], r, strict=True)) for r in rows]
        assert got == said(feats, recs)


def test_integer_columns_at_their_bounds_convert_as_records_do(registry: dict[str, Logged]) -> None:
    """The whole-column check compares in floats, where 2**63 - 1 is 2**63: the bounds go to the per-cell
    converter, which takes them exactly (and refuses one past them) as the records form does."""
    feats = load(registry["sk_typed"]).info.features
    for visits in (2**63 - 1, -(2**63), 0, 1):
        recs = [GOOD_TYPED, {**GOOD_TYPED, "visits": visits}, {**GOOD_TYPED, "visits": 2.0}]
        a, b = to_rows(recs, feats, **LIMITS), to_rows(columns_of(recs), feats, **LIMITS)
        assert a.tolist() == b.tolist() and [type(v) for v in a.ravel()] == [type(v) for v in b.ravel()]
    for visits in (2**63, -(2**63) - 1, False):
        recs = [GOOD_TYPED, {**GOOD_TYPED, "visits": visits}]
        assert said(feats, columns_of(recs)) == said(feats, recs), visits
