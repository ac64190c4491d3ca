"""The native scikit-learn path gives exactly what the estimator's own predict gives."""

from __future__ import annotations

import numpy as np
import pytest

from mlgate.adapters.sklearn import SklearnModel


@pytest.mark.parametrize("name", ["LinearRegression", "Ridge", "Lasso", "ElasticNet"])
def test_linear_fast_path_matches_predict(name: str) -> None:
    import sklearn.linear_model as lm
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    est = getattr(lm, name)().fit(x, y)
    model = SklearnModel(est)
    assert model._linear is not None
    rows = np.ascontiguousarray(x[:17])
    assert np.allclose(model.predict(rows), est.predict(rows), rtol=0, atol=1e-9)
    assert np.allclose(model.predict(rows[:1]), est.predict(rows[:1]), rtol=0, atol=1e-9)


def test_multi_output_linear_and_forest() -> None:
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    y2 = np.c_[x.sum(axis=1), x[:, 0]]
    ridge = SklearnModel(Ridge().fit(x, y2))
    assert np.allclose(ridge.predict(x[:3]), Ridge().fit(x, y2).predict(x[:3]))
    forest = RandomForestRegressor(n_estimators=5, random_state=0).fit(x, x[:, 0])
    wrapped = SklearnModel(forest)
    assert wrapped._linear is None and wrapped.predict(x[:2]) == forest.predict(x[:2]).tolist()
