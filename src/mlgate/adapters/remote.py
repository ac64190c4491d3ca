"""Versions served elsewhere: an Open Inference Protocol (KServe v2) or MLflow scoring endpoint.

A version is remote when its tag ``mlgate.remote`` (or its MLmodel flavor
``mlgate_remote``, written by ``Registrar.register_remote``) holds a spec::

    {"protocol": "v2" | "mlflow", "url": "http://host:port", "model": "iris",
     "version": "v1", "timeout_s": 5, "retries": 2, "classes": ["setosa", ...],
     "format": "dataframe" | "tensor"}

``protocol: v2`` posts ``/v2/models/{model}[/versions/{version}]/infer`` (Triton,
MLServer, KServe); ``protocol: mlflow`` posts ``/invocations`` (``mlflow models
serve``). mlgate forwards the validated, guarded rows (a float64 matrix in the
version's feature order); the halt, the guards, the breaker and the ledger apply in
the Executor exactly as for an in-process model.

One pooled ``httpx.Client`` per endpoint is shared by every version that uses it.
Retries happen only where repeating cannot double work: the connection was never
made (connect error or connect timeout) or a gateway said so (502, 503, 504). A
read timeout is not retried: the engine may still be working on the request.
Every failure is a ``BackendError`` that names the endpoint (without credentials) and
a short classified reason: "returned 500 (server error)", "timeout", "connection
refused". The engine's body never reaches the agent: it may hold secrets.

Trust: the spec is part of what the version's digest covers. The flavor lives in
the artifact's MLmodel file; a ``mlgate.remote`` *tag* is not covered, so a tag that
differs from the flavor (or appears on a version registered without one) is refused
with ``IntegrityError``: pointing a version elsewhere means registering a new one.
Engine hosts must be in ``MLGATE_REMOTE_ALLOWLIST`` (``host`` or ``host:port``;
empty: no engine is reachable), checked when the version is loaded.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import numpy as np

from mlgate import telemetry
from mlgate.adapters.remote_spec import RemoteSpec
from mlgate.domain import Matrix
from mlgate.errors import BackendError

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({502, 503, 504})
CALL_COST_S = 0.005  # what the Executor assumes instead of timing a remote call: off the loop, batched


_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def client_for(base_url: str) -> Any:
    """The pooled client of one endpoint (scheme, host and port), made on first use."""
    import httpx

    found = _clients.get(base_url)
    if found is None:
        with _clients_lock:
            found = _clients.get(base_url)
            if found is None:
                limits = httpx.Limits(max_connections=64, max_keepalive_connections=16, keepalive_expiry=30)
                found = _clients[base_url] = httpx.Client(
                    base_url=base_url, limits=limits, headers={"content-type": "application/json"}
                )
    return found


class RemoteModel:
    """Predictor (and, over v2, Classifier) whose rows are answered by a remote engine."""

    call_cost_s = CALL_COST_S

    def __init__(self, spec: RemoteSpec, feature_names: list[str]) -> None:
        self.spec = spec
        self.features = feature_names
        self.interfaces = spec.offered

    # -- the interfaces ----------------------------------------------------------------
    def predict(self, rows: Matrix) -> list[Any]:
        if self.spec.protocol == "mlflow":
            out = self._post(self._mlflow_body(rows)).get("predictions")
            if isinstance(out, dict):  # a pyfunc that returns a DataFrame: first column
                out = next(iter(out.values()), [])
            return self._rows(out, rows.shape[0])
        outputs = self._v2(rows, ["predict"])
        return self._rows(outputs["predict"], rows.shape[0])

    def classify(self, rows: Matrix) -> tuple[list[str], list[dict[str, float]]]:
        if self.spec.protocol != "v2":
            raise BackendError(
                f"{self.spec.shown} speaks MLflow scoring, which returns no probabilities",
                "call ml_predict with this version",
            )
        probs = np.asarray(self._v2(rows, ["predict_proba"])["predict_proba"], dtype=np.float64)
        probs = probs.reshape(rows.shape[0], -1)
        names = list(self.spec.classes) or [str(j) for j in range(probs.shape[1])]
        if len(names) != probs.shape[1]:
            raise BackendError(
                f"{self.spec.shown} returned {probs.shape[1]} class probabilities, the spec "
                f"names {len(names)} classes",
                "fix 'classes' in the version's remote spec",
            )
        labels = [names[j] for j in probs.argmax(axis=1)]
        return labels, [dict(zip(names, map(float, p), strict=True)) for p in probs]

    # -- the protocols -----------------------------------------------------------------
    def _mlflow_body(self, rows: Matrix) -> dict[str, Any]:
        if self.spec.format == "tensor":
            return {"inputs": rows.tolist()}
        return {"dataframe_split": {"columns": self.features, "data": rows.tolist()}}

    def _v2(self, rows: Matrix, outputs: list[str]) -> dict[str, Any]:
        body = {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": list(rows.shape),
                    "datatype": "FP64",
                    "data": rows.ravel().tolist(),
                }
            ],
            "outputs": [{"name": n} for n in outputs],
        }
        answer = self._post(body)
        found: dict[str, Any] = {
            str(o.get("name")): o.get("data") for o in answer.get("outputs") or [] if isinstance(o, dict)
        }
        missing = [n for n in outputs if n not in found]
        if missing:
            raise BackendError(
                f"{self.spec.shown} answered without the output {missing[0]!r}",
                "check that the engine serves a scikit-learn style model (predict/predict_proba)",
            )
        return found

    def _rows(self, out: Any, n: int) -> list[Any]:
        values = np.asarray(out).reshape(-1).tolist() if out is not None else []
        if len(values) != n:
            raise BackendError(
                f"{self.spec.shown} returned {len(values)} values for {n} rows",
                "check the engine's model; mlgate expects one output per row",
            )
        return values

    # -- the transport -----------------------------------------------------------------
    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        spec = self.spec
        client = client_for(spec.url)
        path = spec.endpoint[len(spec.url) :]
        where = spec.shown
        delay = 0.05
        for attempt in range(spec.retries + 1):
            last = attempt == spec.retries
            t0 = time.perf_counter()
            try:
                headers = telemetry.inject({})  # the engine continues the call's trace
                resp = client.post(path, content=json.dumps(body), timeout=spec.timeout_s, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if last:
                    raise BackendError(
                        f"remote endpoint {where} is unreachable ({_connect_reason(exc)}) after "
                        f"{attempt + 1} attempt(s)",
                        _DOWN_HINT,
                    ) from None
            except httpx.TimeoutException:
                ms = (time.perf_counter() - t0) * 1000
                raise BackendError(
                    f"remote endpoint {where} did not answer within {spec.timeout_s:g} s "
                    f"(timeout after {ms:.0f} ms; not retried)",
                    _DOWN_HINT,
                ) from None
            except httpx.HTTPError as exc:  # the class only: an exception's text may quote the engine
                raise BackendError(
                    f"remote endpoint {where} failed ({type(exc).__name__})", _DOWN_HINT
                ) from None
            else:
                if resp.status_code == 200:
                    return _json(resp, where)
                if resp.status_code not in RETRY_STATUS or last:
                    status = resp.status_code
                    log.warning(
                        "remote endpoint %s returned %d (%d bytes; body not shown to callers)",
                        where,
                        status,
                        len(resp.content),
                    )
                    raise BackendError(
                        f"remote engine {where} returned {status} ({classify_status(status)})", _hint(status)
                    )
            time.sleep(delay)
            delay *= 4
        raise AssertionError("unreachable")


_STATUS = {
    400: "input refused",
    401: "not authorised",
    403: "forbidden",
    404: "not found",
    408: "timeout",
    413: "request too large",
    422: "input refused",
    429: "rate limited",
    502: "bad gateway",
    503: "unavailable",
    504: "gateway timeout",
}


def classify_status(status: int) -> str:
    """A short reason for an HTTP status: what an agent may read instead of the engine's body."""
    if status in _STATUS:
        return _STATUS[status]
    if 300 <= status < 400:
        return "redirect, not followed"
    if 400 <= status < 500:
        return "client error"
    if 500 <= status < 600:
        return "server error"
    return "unexpected status"


def _connect_reason(exc: Exception) -> str:
    import httpx

    if isinstance(exc, httpx.ConnectTimeout):
        return "connect timeout"
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if "name" in text and ("resolv" in text or "known" in text or "service" in text):
        return "name not resolved"
    return "connection failed"


_DOWN_HINT = "the serving engine may be down or overloaded; retry later, or an operator can halt this model"


def _hint(status: int) -> str:
    if status in (400, 422):
        return "the engine refused the input: check ml_model_info for the features and their order"
    if status == 404:
        return "the engine does not serve this model: check 'url' and 'model' in the version's remote spec"
    return _DOWN_HINT


def _json(resp: Any, endpoint: str) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        raise BackendError(f"remote endpoint {endpoint} answered with something other than JSON") from None
    if not isinstance(data, dict):
        raise BackendError(f"remote endpoint {endpoint} answered with JSON that is not an object")
    return data
