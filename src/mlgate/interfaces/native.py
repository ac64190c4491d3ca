"""Compatibility: artifacts written by mlgate before the ``adapters/`` layout name this module as their
pyfunc ``loader_module`` (``mlflow.pyfunc.load_model`` imports it); the adapter is ``mlgate.adapters.native``."""

from mlgate.adapters.native import _load_pyfunc

__all__ = ["_load_pyfunc"]
