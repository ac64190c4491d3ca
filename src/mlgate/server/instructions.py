"""What the server tells an agent at ``initialize``: here, so the stdio front answers it without
importing the server (server/front.py)."""

INSTRUCTIONS = """mlgate serves an organisation's registered ML models.
Start with ml_list_models, then ml_model_info on a version to see its features and an example call.
Always pin a version ('name@3') or an alias ('name@production'); every result's `model` is the exact version that
ran: {name, version, ref, sha256}. A predict_/classify_/forecast_<model> tool, when listed, is ml_predict/ml_classify/
ml_forecast with that model fixed (a feature's description is its training range). Long calls (pull, compile, retrain, skills) may answer with a `job`: poll ml_job."""
