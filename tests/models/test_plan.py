"""The artifact plan over hand-written MLmodel folders: which flavor, which files, what runs code, and what
is refused — without MLflow, without loading anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlgate.artifacts import tree_sha256
from mlgate.errors import Refused
from mlgate.models.plan import plan_artifact


def _folder(tmp_path: Path, flavors: dict[str, Any], files: dict[str, bytes]) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text(yaml.safe_dump({"artifact_path": "model", "flavors": flavors}))
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def test_the_flavor_that_is_loaded_decides_what_runs_code(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "prophet": {"data": "model.statsmodels"},
            "statsmodels": {"data": "model.statsmodels"},
            "python_function": {"loader_module": "mlflow.statsmodels", "data": "model.statsmodels"},
        },
        {"model.statsmodels": b"a pickle", "conda.yaml": b"{}"},
    )
    plan = plan_artifact(folder)
    assert plan.flavor == "statsmodels" and plan.runs_code
    assert plan.code == ("a pickled statsmodels results object",)
    assert plan.files == ("MLmodel", "model.statsmodels") and plan.code_files == ("model.statsmodels",)
    assert plan.shown(plan.code_files) == [str(folder.resolve() / "model.statsmodels")]
    assert (plan.digest, plan.size) == tree_sha256(folder)  # covers every file a load reads, and the rest


def test_data_only_flavors_run_nothing(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"prophet": {"data": "model.pr"}}, {"model.pr": b"{}"})
    plan = plan_artifact(folder)
    assert plan.flavor == "prophet" and not plan.runs_code and plan.files == ("MLmodel", "model.pr")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("/elsewhere/model.pkl", "an absolute path"),
        ("C:\\models\\model.pkl", "an absolute path"),
        ("../model.pkl", "a path that leaves the artifact"),
        ("sub/../../model.pkl", "a path that leaves the artifact"),
    ],
)
def test_a_path_outside_the_artifact_is_refused(tmp_path: Path, value: str, why: str) -> None:
    folder = _folder(
        tmp_path, {"sklearn": {"pickled_model": value, "serialization_format": "cloudpickle"}}, {}
    )
    with pytest.raises(Refused, match=r"sklearn\.pickled_model") as caught:
        plan_artifact(folder)
    assert why in str(caught.value)


def test_pyfunc_paths_are_checked_but_an_artifact_s_original_uri_is_not_a_path_read(tmp_path: Path) -> None:
    pyfunc: dict[str, Any] = {
        "loader_module": "mlflow.pyfunc.model",
        "python_model": "python_model.pkl",
        "artifacts": {"weights": {"path": "artifacts/w.bin", "uri": "/home/someone/w.bin"}},
    }
    folder = _folder(
        tmp_path, {"python_function": pyfunc}, {"python_model.pkl": b"x", "artifacts/w.bin": b"w"}
    )
    plan = plan_artifact(folder)  # MLflow records where an artifact came from; it reads only ``path``
    assert plan.flavor == "python_function" and plan.code == ("a pickled pyfunc python_model",)
    assert set(plan.files) == {"MLmodel", "python_model.pkl", "artifacts/w.bin"}
    pyfunc["artifacts"]["weights"]["path"] = "/home/someone/w.bin"
    (folder / "MLmodel").write_text(yaml.safe_dump({"flavors": {"python_function": pyfunc}}))
    with pytest.raises(Refused, match=r"python_function\.artifacts\.weights\.path"):
        plan_artifact(folder)


def test_a_link_out_of_the_artifact_is_refused_wherever_it_is(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "w.bin").write_bytes(b"w")
    folder = _folder(tmp_path, {"onnx": {"data": "model.onnx"}}, {"model.onnx": b"graph"})
    (folder / "extra").symlink_to(outside)  # a folder nothing names: still refused
    with pytest.raises(Refused, match="extra in the artifact is a link to a place outside it"):
        plan_artifact(folder)
    (folder / "extra").unlink()
    (folder / "inner.onnx").symlink_to(folder / "model.onnx")  # a link that stays inside is fine
    assert plan_artifact(folder).flavor == "onnx"
