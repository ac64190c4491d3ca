"""Use cases over the model store and the serving runtime: the catalog, gates and stages, drift,
comparison and retraining."""
