"""A pyfunc model whose calls can be held at a gate: the test decides when they finish, so how many are in
flight at once is known exactly (no timing). Importable, so MLflow pickles the class by reference and the
server in this process shares ``GATE``."""

from __future__ import annotations

import threading
import time

import mlflow.pyfunc

ARMED = threading.Event()  # while set, every call waits at GATE
GATE = threading.Event()


class Gated(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]  # (MLflow reads hints)
        # the cost the runtime measures at load (over INLINE_MAX_S): it then runs the calls on worker threads,
        # where waiting at GATE blocks no event loop. The duration is what is measured, not a wait for something
        time.sleep(0.003)
        if ARMED.is_set():
            GATE.wait(120)
        return model_input["x"] * 2.0
