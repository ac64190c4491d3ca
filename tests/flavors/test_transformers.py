"""The MLflow ``transformers`` flavor (a text-classification pipeline) through the MCP tools, offline.

A tiny randomly initialised DistilBERT (built from a config) and a word-level tokenizer built here
with ``tokenizers``, wrapped in ``transformers.pipeline("text-classification")`` and logged with plain
``mlflow.transformers.log_model``: listed as an analyzer without a load, ``runs_code`` reported,
``ml_analyze`` refused until an operator admits the version at the digest ``ml_model_info`` reports,
then each label and score equal the pipeline's own (scores to 1e-6) and the example works as given.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import call, mlflow_at, mlflow_db
from tests._support.flavors import close

pytest.importorskip("transformers")
pytestmark = pytest.mark.anyio

NAME = "tfx_sentiment"
WORDS = [
    "good",
    "bad",
    "great",
    "awful",
    "fine",
    "terrible",
    "nice",
    "poor",
    "love",
    "hate",
    "movie",
    "film",
    "the",
    "a",
    "was",
    "is",
    "it",
    "service",
]
TEXTS = ["good movie", "the film was awful", "great service", "I hate it", "nice", "poor poor poor film"]


@dataclass
class TextRegistry:
    settings: Settings
    pipe: Any  # the pipeline logged, for its own answers


def _pipeline() -> Any:
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing
    from transformers import (
        DistilBertConfig,
        DistilBertForSequenceClassification,
        PreTrainedTokenizerFast,
        pipeline,
    )

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {w: i for i, w in enumerate(special + WORDS)}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tk.normalizer = normalizers.Lowercase()
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
        model_input_names=["input_ids", "attention_mask"],  # DistilBERT takes no token_type_ids
    )
    torch.manual_seed(6)  # a seed whose texts get both labels and scores of 0.6-0.95
    config = DistilBertConfig(
        vocab_size=len(vocab),
        dim=32,
        n_layers=1,
        n_heads=2,
        hidden_dim=64,
        max_position_embeddings=64,
        initializer_range=0.5,  # wide random weights: the texts get different labels and scores
        id2label={0: "negative", 1: "positive"},
        label2id={"negative": 0, "positive": 1},
    )
    model = DistilBertForSequenceClassification(config).eval()
    return pipeline("text-classification", model=model, tokenizer=tokenizer, device="cpu")


@pytest.fixture(scope="module")
def text_registry(tmp_path_factory: pytest.TempPathFactory) -> TextRegistry:
    import mlflow
    import mlflow.transformers
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("plain-transformers")
    uri = mlflow_db(root)
    pipe = _pipeline()
    with mlflow_at(uri):
        exp = mlflow.create_experiment("text", artifact_location=(root / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=exp, run_name=NAME):
            mlflow.log_metric("accuracy", 0.5)
            mlflow.transformers.log_model(
                pipe,
                name="model",
                registered_model_name=NAME,
                input_example=TEXTS[:2],
                pip_requirements=["mlflow", "transformers", "torch"],
            )
        MlflowClient(tracking_uri=uri).set_registered_model_alias(NAME, "production", "1")
    settings = Settings(
        home=tmp_path_factory.mktemp("transformers-home"),
        tracking_uri=uri,
        stdio_scopes=["ml:read", "ml:infer"],
    )
    settings.ensure_home()
    return TextRegistry(settings, pipe)


@pytest.fixture
async def rt(text_registry: TextRegistry) -> AsyncIterator[Runtime]:
    runtime = Runtime(text_registry.settings)
    yield runtime
    await runtime.aclose()


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[Any]:
    async with Client(build_server(rt)) as c:
        yield c


def _own(pipe: Any, texts: list[str]) -> tuple[list[str], list[float]]:
    out = pipe(list(texts))
    return [str(r["label"]) for r in out], [float(r["score"]) for r in out]


async def test_text_classification_listed_refused_then_admitted_and_equal_to_the_pipeline(
    client: Any, rt: Runtime, text_registry: TextRegistry
) -> None:
    err, listing = await call(client, "ml_list_models", {})
    assert not err, listing
    (v1,) = {m["name"]: m["versions"] for m in listing["models"]}[NAME]
    assert v1["interfaces"] == ["analyzer"] and v1["metrics"] == {"accuracy": 0.5}, v1
    err, info = await call(client, "ml_model_info", {"model": f"{NAME}@production"})
    assert not err, info
    assert info["interfaces"] == ["analyzer"] and info["features"] == [], info
    assert info["runs_code"] == ["a transformers model (its configuration can name repository code)"], info
    assert info["admitted_by"] is None, info
    assert rt.models.cache.stats().loads == 0  # nothing above loaded the pipeline

    err, msg = await call(client, "ml_analyze", {"model": f"{NAME}@production", "texts": TEXTS})
    assert err and "no operator admitted it" in msg and f"mlgate models admit {NAME} 1" in msg, msg
    assert rt.models.cache.stats().loads == 0

    rt.admissions.admit(NAME, 1, info["model"]["sha256"], "test operator")
    err, out = await call(client, "ml_analyze", {"model": f"{NAME}@production", "texts": TEXTS})
    assert not err, out
    assert out["model"]["sha256"] == info["model"]["sha256"]
    labels, scores = _own(text_registry.pipe, TEXTS)
    assert [r["label"] for r in out["results"]] == labels, (out["results"], labels)
    assert close([r["score"] for r in out["results"]], scores), (out["results"], scores)
    assert len(set(labels)) == 2 and len({round(s, 4) for s in scores}) > 2  # the texts really differ

    example = info["example"]
    assert set(example) == {"model", "texts"}, example
    err, out = await call(client, "ml_analyze", example)
    assert not err, (example, out)
    labels, scores = _own(text_registry.pipe, example["texts"])
    assert [r["label"] for r in out["results"]] == labels
    assert close([r["score"] for r in out["results"]], scores)
