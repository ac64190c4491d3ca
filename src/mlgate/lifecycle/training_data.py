"""Training data for ``ml_retrain``: records in the call, or a CSV / Parquet file under MLGATE_DATA_DIR.

A path is resolved (symlinks followed) and must stay inside the data folder; with no
data folder configured, paths are refused and only records are accepted. Features
are taken in the version's feature order; the target column is separate. Every value
must be a finite number (the target of a classifier may be a label string).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlgate.artifacts import file_sha256, json_sha256
from mlgate.config import Settings
from mlgate.domain import Feature, Matrix
from mlgate.errors import InvalidInput, NotFound, Refused
from mlgate.numbers import finite, shown
from mlgate.records.checks import to_matrix
from mlgate.records.columns import as_records, is_columnar

MAX_FILE_BYTES = 512 * 1024 * 1024
SUFFIXES = (".csv", ".parquet", ".pq")


@dataclass(frozen=True, slots=True)
class TrainingData:
    x: Matrix
    y: np.ndarray
    source: str
    digest: str

    @property
    def rows(self) -> int:
        return int(self.x.shape[0])


def load_training_data(
    settings: Settings, data: Any, features: list[Feature], target: str, *, classifier: bool
) -> TrainingData:
    if not isinstance(target, str) or not target:
        raise InvalidInput("target must name the column to predict", 'e.g. "target": "progression"')
    if target in {f.name for f in features}:
        raise InvalidInput(f"target {target!r} is one of the model's features", "name the label column")
    if is_columnar(data):
        data = as_records(data)  # {"columns": [...], "rows": [[...]]}: the target is one of the columns
    if isinstance(data, str):
        return _from_file(settings, data, features, target, classifier)
    if isinstance(data, list):
        return _from_records(settings, data, features, target, classifier)
    raise InvalidInput(
        "data must be a list of records or a path under the data folder",
        'send [{"feature": 1.0, …, "target": 2.0}, …] or "new/batch.csv"',
    )


def resolve_data_path(settings: Settings, path: str) -> Path:
    """``path`` inside MLGATE_DATA_DIR (relative to it, or absolute within it); anything else is refused."""
    if settings.data_dir is None:
        raise Refused(
            "training data paths are disabled: MLGATE_DATA_DIR is not set",
            "send the rows as records, or ask the operator to set MLGATE_DATA_DIR",
        )
    if not path or "\x00" in path or len(path) > 1000:
        raise Refused(f"path {path[:80]!r} is empty or malformed", "send a path relative to the data folder")
    root = settings.data_dir.expanduser().resolve()
    given = Path(path)
    target = (given if given.is_absolute() else root / given).resolve()
    if not target.is_relative_to(root):
        raise Refused(
            f"path {path!r} is outside the data folder", "training data must live under MLGATE_DATA_DIR"
        )
    if not target.is_file():
        raise NotFound(f"no file {path!r} in the data folder", "paths are relative to MLGATE_DATA_DIR")
    if target.suffix.lower() not in SUFFIXES:
        raise InvalidInput(f"{target.name}: training data must be CSV or Parquet", "use .csv or .parquet")
    if target.stat().st_size > MAX_FILE_BYTES:
        raise InvalidInput(f"{target.name} is larger than {MAX_FILE_BYTES >> 20} MB", "sample it first")
    return target


def _from_file(
    settings: Settings, path: str, features: list[Feature], target: str, classifier: bool
) -> TrainingData:
    import pandas as pd

    file = resolve_data_path(settings, path)
    try:
        frame = pd.read_csv(file) if file.suffix.lower() == ".csv" else pd.read_parquet(file)
    except ImportError:
        raise InvalidInput(
            "reading Parquet needs pyarrow, which is not installed", "send CSV instead"
        ) from None
    except Exception as exc:
        raise InvalidInput(
            f"could not read {file.name}: {exc}"[:300], "send a CSV with a header row"
        ) from None
    names = [f.name for f in features]
    missing = [c for c in [*names, target] if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"{file.name} lacks column(s) {', '.join(map(repr, missing))}",
            f"it needs the features {', '.join(names)} and the target {target!r}",
        )
    if len(frame) * max(len(names), 1) > settings.max_cells:
        raise InvalidInput(
            f"{len(frame)} rows × {len(names)} features exceed the limit of {settings.max_cells}",
            "sample the file",
        )
    try:
        x = frame[names].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(f"{file.name}: feature columns must be numbers", "clean the file") from None
    if not np.isfinite(x).all():
        bad = names[int(np.argwhere(~np.isfinite(x))[0][1])]
        raise InvalidInput(
            f"{file.name}: column {bad!r} has empty or non-finite values", "drop or fill those rows"
        )
    y = _target(frame[target].tolist(), target, classifier)
    digest = file_sha256(file)
    root = settings.data_dir.expanduser().resolve() if settings.data_dir else file.parent
    return TrainingData(x=x, y=y, source=file.relative_to(root).as_posix(), digest=digest)


def _from_records(
    settings: Settings, records: list[Any], features: list[Feature], target: str, classifier: bool
) -> TrainingData:
    labels: list[Any] = []
    rows: list[dict[str, Any]] = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise InvalidInput(
                f"record {i} is a {type(rec).__name__}, not an object", "send one object per row"
            )
        if target not in rec:
            raise InvalidInput(f"record {i} has no target {target!r}", "every record needs the target value")
        labels.append(rec[target])
        rows.append({k: v for k, v in rec.items() if k != target})
    x = to_matrix(rows, features, max_rows=settings.max_rows, max_cells=settings.max_cells)
    y = _target(labels, target, classifier)
    return TrainingData(x=x, y=y, source="records", digest=json_sha256(records))


def _target(values: list[Any], target: str, classifier: bool) -> np.ndarray:
    if classifier:
        for i, v in enumerate(values):
            if (
                v is None
                or isinstance(v, bool)
                or not isinstance(v, str | int | float)
                or (isinstance(v, float) and not math.isfinite(v))
            ):
                raise InvalidInput(f"row {i}: target {target!r} must be a label, got {v!r:.40}")
        return np.asarray([str(v) for v in values])
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int | float) or not finite(v):
            raise InvalidInput(f"row {i}: target {target!r} must be a finite number, got {shown(v)}")
        out[i] = v
    return out
