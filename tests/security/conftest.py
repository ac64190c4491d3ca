"""The local Hub fixtures of tests/supply, for the trust-boundary tests."""

from tests.supply.conftest import hub, hub_env

__all__ = ["hub", "hub_env"]
