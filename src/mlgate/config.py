"""Settings: one pydantic-settings object, prefix ``MLGATE_``, ``.env`` honoured.

It is built once by the command line (or a test) and passed explicitly; there is no
module-level instance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ALL_SCOPES = ("ml:read", "ml:infer", "ml:manage", "ml:halt", "ml:audit", "ml:admin")


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MLGATE_", env_file=".env", extra="ignore")

    home: Path = Field(
        default_factory=lambda: Path.home() / ".mlgate",
        description="state folder: registry (SQLite), artifact store, pull cache, state database, dev keys",
        json_schema_extra={"shown_default": "~/.mlgate"},
    )
    tracking_uri: str | None = Field(
        default=None,
        description="any MLflow tracking URI; `http://…` for a shared MLflow server",
        json_schema_extra={"shown_default": "sqlite:///$MLGATE_HOME/mlflow.db"},
    )
    state_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the state database: halts, audit ledger, admissions, jobs, skill runs, "
        "captures (PostgreSQL for several replicas)",
        json_schema_extra={"shown_default": "sqlite:///$MLGATE_HOME/state.db"},
    )
    resource_url: str = Field(
        default="http://127.0.0.1:8000/mcp/ml",
        description="this server's canonical URI: the audience every token must carry",
    )
    auth_issuer: str | None = Field(
        default=None, description="the authorization server (byte for byte its `iss`)"
    )
    auth_jwks: str | None = Field(default=None, description="the authorization server's JWKS (URL or file)")
    dev_auth: bool = Field(
        default=False,
        description="a local signing key, the development authorization server and `mlgate token` "
        "(`make serve` turns it on; loopback only)",
    )
    allow_latest: bool = Field(default=False, description="let `name@latest` resolve (development only)")
    alias_ttl_ms: float = Field(
        default=5_000,
        ge=0,
        le=600_000,
        description="an alias answer (name@production → version) is kept at most this long: how long a change "
        "made outside mlgate goes unseen (changes through mlgate reach every replica with its next halt "
        "poll); 0 asks the registry on every call",
    )
    warm_aliases: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["production"],
        description="at startup, in the background, load the versions these aliases point to (within "
        "MLGATE_CACHE_MB); empty: no warm-up. `/readyz` answers 200 when it is done",
    )
    cache_mb: int = Field(default=512, ge=1, description="memory budget of the model cache (LRU)")
    stdio_scopes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["all"], description="what a local stdio agent may call"
    )
    api_keys: Path | None = Field(
        default=None, description="JSON-lines file of hashed static keys with scopes"
    )
    pull_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="organisations / repositories `ml_pull` may fetch from the Hub"
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host values accepted beside loopback and the canonical URI's host (DNS-rebinding "
        "protection)",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="browser origins (scheme://host[:port]) allowed to call /mcp/ml cross-origin; empty: "
        "no CORS headers",
    )
    skills_dir: Path | None = Field(
        default=None, description="an organisation's own skill specs, beside the built-in ones"
    )
    rules: Path | None = Field(
        default=None,
        description="guard rule packs (YAML file or folder)",
        json_schema_extra={"shown_default": "built-in pack"},
    )
    data_dir: Path | None = Field(
        default=None, description="the only folder training-data paths may point into"
    )
    trusted_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="registered-model name patterns whose code-bearing artifacts load without an admission",
    )
    batching: Literal["auto", "on", "off"] = Field(
        default="auto", description="`auto` batches models whose one-row call costs > 200 µs; `on` / `off`"
    )
    batch_max_size: int = Field(default=64, ge=1, description="rows in one batch at most")
    batch_max_wait_ms: float = Field(default=2.0, ge=0, description="how long a batch waits to fill")
    batch_max_queue: int = Field(
        default=1024, ge=1, description="calls waiting for a batched model before 'overloaded, retry'"
    )
    halt_poll_s: float = Field(
        default=0.5, gt=0, le=1.0, description="how often each replica re-reads halts and alias generations"
    )
    ledger_sync: bool = Field(
        default=False,
        description="a tool call returns only after its ledger row is committed (a killed replica loses no "
        "row of a call that returned); state-changing tools always wait",
    )
    jobs_broker: str | None = Field(
        default=None,
        description="`redis://…`: long operations run on Celery workers (`mlgate worker`); unset: in process "
        "(docs/jobs.md)",
    )
    job_wait_s: float = Field(
        default=20.0,
        ge=0,
        le=3600,
        description="a call waits this long for its job, then answers with a handle",
    )
    job_workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="the in-process job pool's size, and `mlgate worker`'s concurrency",
    )
    job_lease_s: float = Field(
        default=30.0, ge=1, le=3600, description="a job whose worker is silent this long is interrupted"
    )
    ledger_fail_after_s: float = Field(
        default=3.0,
        gt=0,
        le=300,
        description="rows waiting this long without a commit refuse every call (and /healthz says why)",
    )
    halt_fail_after: int = Field(
        default=3,
        ge=1,
        le=1000,
        description="a replica whose halt poll failed this many intervals in a row refuses serving",
    )
    remote_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="hosts (or host:port) remote inference engines may be reached on"
    )
    torchhub_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="TorchHub repositories that may be pulled (owner, owner/*, owner/repo; empty: none)",
    )
    torchhub_endpoint: str = Field(
        default="https://codeload.github.com/{owner}/{repo}/tar.gz/{commit}",
        description="where TorchHub archives come from",
    )
    torchhub_pins: dict[str, str] = Field(
        default_factory=dict,
        description='the SHA-256 the operator pinned per "owner/repo@<commit>" (JSON object; docs/supply.md)',
    )
    max_rows: int = Field(default=10_000, ge=1, description="records in one call at most")
    max_cells: int = Field(default=1_000_000, ge=1, description="values in one call at most")
    max_sessions_per_principal: int = Field(
        default=8,
        ge=1,
        le=10_000,
        description="open MCP sessions (streamable HTTP) one token subject or API key may hold at once",
    )
    session_idle_s: float = Field(
        default=900.0,
        gt=0,
        le=86_400,
        description="a session with no request in flight (and no open event stream) this long is closed",
    )
    metrics_addr: str | None = Field(
        default=None,
        description="host:port of a separate /metrics listener without auth (keep it internal); on the MCP "
        "listener /metrics needs ml:read",
    )
    metrics_multiproc_dir: Path | None = Field(
        default=None,
        description="a folder the server and its `mlgate worker` processes on one host share, so one "
        "/metrics shows all their calls (prometheus_client multiprocess mode; PROMETHEUS_MULTIPROC_DIR works "
        "too)",
    )
    capture: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="model name patterns whose predictions are captured (also the version tag "
        "mlgate.capture=true; docs/monitoring.md)",
    )
    capture_inputs: bool = Field(
        default=False, description="keep the inputs of captured predictions (needed to retrain on them)"
    )
    capture_retention_days: float = Field(
        default=90.0, ge=0, description="captured predictions and their actuals older than this are deleted"
    )
    quality_rules: dict[str, dict[str, float | bool]] = Field(
        default_factory=dict,
        description="degradation rules per model name pattern (JSON; docs/monitoring.md)",
    )
    otel: bool = Field(
        default=False,
        description="OpenTelemetry traces, exported over OTLP as the standard OTEL_EXPORTER_OTLP_* variables say "
        "(the otel extra; docs/tracing.md); off: no spans (a client's trace id is still kept on ledger rows)",
    )
    capture_groups: dict[str, str] = Field(
        default_factory=dict,
        description="token subject → group name (JSON object): actuals join predictions made by the recording "
        "subject or by a subject of its group, nobody else's (docs/monitoring.md)",
    )
    max_inflight: int = Field(
        default=1024,
        ge=1,
        description="calls in flight (running or queued) per model version before 'overloaded, retry in …', "
        "batched or not",
    )
    pull_max_mb: int = Field(
        default=2048,
        ge=1,
        le=1_048_576,
        description="the most one `ml_pull` downloads: the listing is checked before downloading, each stream "
        "while downloading",
    )
    model_tools: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="versions published as typed tools of their own, e.g. `churn@production,demand-*@production` "
        "(name patterns with an alias; docs/model-tools in the README)",
    )

    _split_lists = field_validator(
        "stdio_scopes",
        "model_tools",
        "trusted_models",
        "capture",
        "pull_allowlist",
        "allowed_hosts",
        "cors_origins",
        "warm_aliases",
        mode="before",
    )(_split)

    _split_remote = field_validator("remote_allowlist", "torchhub_allowlist", mode="before")(_split)

    @field_validator("home", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def tracking(self) -> str:
        """The MLflow tracking URI: the setting, else SQLite under ``home``."""
        return self.tracking_uri or f"sqlite:///{self.home / 'mlflow.db'}"

    @property
    def artifact_root(self) -> str:
        return (self.home / "artifacts").as_uri()

    @property
    def state(self) -> str:
        """The SQLAlchemy URL of the state database."""
        return self.state_url or f"sqlite:///{self.home / 'state.db'}"

    @property
    def stdio_granted(self) -> frozenset[str]:
        scopes = set(self.stdio_scopes)
        if "all" in scopes:
            return frozenset(ALL_SCOPES)
        return frozenset(scopes)

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


SETTINGS_DOC_HEAD = """# Settings

Environment variables (prefix `MLGATE_`) or a `.env` file in the working directory. This page is
generated from the field descriptions in `src/mlgate/config.py` (`make settings-doc`);
`tests/test_settings_doc.py` fails when the two disagree.

"""


def settings_table() -> str:
    """The settings as a Markdown page, from the fields' descriptions (docs/settings.md is this output)."""
    import json

    rows = [SETTINGS_DOC_HEAD + "| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        shown = extra.get("shown_default")
        if shown is None:
            value = field.get_default(call_default_factory=True)
            if value is None:
                shown = "unset"
            elif isinstance(value, bool):
                shown = "on" if value else "off"
            elif isinstance(value, list):
                shown = ",".join(str(v) for v in value) or "empty"
            elif isinstance(value, dict):
                shown = json.dumps(value) if value else "{}"
            else:
                shown = f"{value:g}" if isinstance(value, float) else str(value)
        rows.append(f"| `MLGATE_{name.upper()}` | `{shown}` | {field.description} |")
    return "\n".join(rows) + "\n"
