"""Drift statistics: SciPy (what lifecycle/drift.py uses now) against the hand-written NumPy code it
replaced, on the same arrays in the same run. Prints µs per feature and the ratio, plus how far the
old asymptotic p-value was from SciPy's.

    PYTHONPATH=$PWD/src .venv/bin/python bench/drift_stats.py
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from mlgate.lifecycle.drift import ks_2samp, psi

_FLOOR = 1e-4
_KS_TERMS = np.arange(1, 101, dtype=np.float64)


def old_psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    if edges.size == 0 or np.ptp(reference) == 0:
        centre = float(reference[0])
        edges = np.array([centre - 1e-12, centre + 1e-12])
    r = (
        np.bincount(np.searchsorted(edges, reference, side="right"), minlength=edges.size + 1)
        / reference.size
    )
    c = np.bincount(np.searchsorted(edges, current, side="right"), minlength=edges.size + 1) / current.size
    r, c = np.maximum(r, _FLOOR), np.maximum(c, _FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def old_ks(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    a, b = np.sort(a), np.sort(b)
    both = np.concatenate([a, b])
    d = float(
        np.max(
            np.abs(
                np.searchsorted(a, both, side="right") / a.size
                - np.searchsorted(b, both, side="right") / b.size
            )
        )
    )
    en = float(np.sqrt(a.size * b.size / (a.size + b.size)))
    x = (en + 0.12 + 0.11 / en) * d
    if x < 0.05:
        return d, 1.0
    terms = np.where(_KS_TERMS % 2 == 1, 1.0, -1.0) * np.exp(-2.0 * _KS_TERMS**2 * x * x)
    return d, float(min(1.0, max(0.0, 2.0 * terms.sum())))


def per_call_us(fn: Callable[[], Any], seconds: float = 0.3) -> float:
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    rng = np.random.default_rng(0)
    print(
        f"{'ref x cur':>14} {'old ks µs':>10} {'scipy ks µs':>12} {'ratio':>6} {'old p':>9} {'scipy p':>9}"
        f" {'old psi µs':>11} {'new psi µs':>11} {'ratio':>6} {'psi equal':>9}"
    )
    for n, m in [
        (200, 10),
        (200, 50),
        (200, 200),
        (200, 1000),
        (200, 10_000),
        (1000, 10_000),
        (200, 100_000),
    ]:
        a, b = rng.normal(size=n), rng.normal(0.15, size=m)
        ko, ks = per_call_us(lambda a=a, b=b: old_ks(a, b)), per_call_us(lambda a=a, b=b: ks_2samp(a, b))
        po, pn = per_call_us(lambda a=a, b=b: old_psi(a, b)), per_call_us(lambda a=a, b=b: psi(a, b))
        (d0, p0), (d1, p1) = old_ks(a, b), ks_2samp(a, b)
        assert abs(d0 - d1) < 1e-12
        same = abs(old_psi(a, b) - psi(a, b)) < 1e-9
        print(
            f"{n:>6} x {m:<6} {ko:>10.0f} {ks:>12.0f} {ks / ko:>6.1f} {p0:>9.3g} {p1:>9.3g}"
            f" {po:>11.0f} {pn:>11.0f} {pn / po:>6.1f} {same!s:>9}"
        )


if __name__ == "__main__":
    main()
