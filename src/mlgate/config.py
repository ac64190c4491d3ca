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

    home: Path = Field(default_factory=lambda: Path.home() / ".mlgate")
    tracking_uri: str | None = None
    state_url: str | None = None
    resource_url: str = "http://127.0.0.1:8000/mcp/ml"
    auth_issuer: str | None = None
    auth_jwks: str | None = None
    dev_auth: bool = False
    allow_latest: bool = False
    # an alias answer (name@production → version) is kept this long at most: the bound on how long a change
    # made outside mlgate goes unseen; changes through mlgate reach every replica with its next halt poll.
    # 0: ask the registry on every call
    alias_ttl_ms: float = Field(default=5_000, ge=0, le=600_000)
    # at startup, in the background, load the versions these aliases point to (within MLGATE_CACHE_MB);
    # empty: no warm-up (/readyz answers ready at once)
    warm_aliases: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["production"])
    cache_mb: int = Field(default=512, ge=1)
    stdio_scopes: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["all"])
    api_keys: Path | None = None
    pull_allowlist: Annotated[list[str], NoDecode] = Field(default_factory=list)
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # browser origins (scheme://host[:port]) allowed to call /mcp/ml cross-origin; empty: no CORS headers
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    skills_dir: Path | None = None
    rules: Path | None = None
    data_dir: Path | None = None
    # registered-model name patterns whose code-bearing artifacts load without an admission (off: empty)
    trusted_models: Annotated[list[str], NoDecode] = Field(default_factory=list)
    batching: Literal["auto", "on", "off"] = "auto"
    batch_max_size: int = Field(default=64, ge=1)
    batch_max_wait_ms: float = Field(default=2.0, ge=0)
    batch_max_queue: int = Field(default=1024, ge=1)
    halt_poll_s: float = Field(default=0.5, gt=0, le=1.0)
    # a tool call returns only after its ledger row is committed (replicas: a killed process loses no row
    # of a call that returned); rows of concurrent calls share one transaction
    ledger_sync: bool = False
    # long operations (pull, compile, retrain, multi-step skills) run as jobs: docs/jobs.md
    jobs_broker: str | None = None  # redis://…: Celery workers (`mlgate worker`) run them; unset: in-process
    job_wait_s: float = Field(
        default=20.0, ge=0, le=3600
    )  # a call waits this long, then answers with a handle
    job_workers: int = Field(default=2, ge=1, le=64)  # in-process pool size, and `mlgate worker` concurrency
    job_lease_s: float = Field(
        default=30.0, ge=1, le=3600
    )  # a job whose worker is silent this long: interrupted
    # the audit ledger fails closed: rows waiting this long without a commit refuse every call (and /healthz)
    ledger_fail_after_s: float = Field(default=3.0, gt=0, le=300)
    # the kill switch fails closed: a replica whose halt poll failed this many intervals in a row refuses serving
    halt_fail_after: int = Field(default=3, ge=1, le=1000)
    # hosts (or host:port) remote inference engines may be reached on; empty: none
    remote_allowlist: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # TorchHub (docs/supply.md): repositories that may be pulled (owner, owner/*, owner/repo; empty: none),
    # the archive URL pattern, and the SHA-256 the operator pinned per "owner/repo@<commit>" (JSON object)
    torchhub_allowlist: Annotated[list[str], NoDecode] = Field(default_factory=list)
    torchhub_endpoint: str = "https://codeload.github.com/{owner}/{repo}/tar.gz/{commit}"
    torchhub_pins: dict[str, str] = Field(default_factory=dict)
    max_rows: int = Field(default=10_000, ge=1)
    max_cells: int = Field(default=1_000_000, ge=1)
    # streamable HTTP (stateful): open MCP sessions one token subject (or API key) may hold at once
    max_sessions_per_principal: int = Field(default=8, ge=1, le=10_000)
    # a session with no request in flight (and no open event stream) this long is closed
    session_idle_s: float = Field(default=900.0, gt=0, le=86_400)
    # host:port of a separate /metrics listener without auth (keep it internal); the MCP listener's needs ml:read
    metrics_addr: str | None = None
    # several processes on one host behind one /metrics (server + `mlgate worker`s): a folder they all write
    # their counters into (prometheus_client multiprocess mode; PROMETHEUS_MULTIPROC_DIR works too)
    metrics_multiproc_dir: Path | None = None
    # live quality (docs/monitoring.md): model name patterns whose predictions are captured (also the version
    # tag mlgate.capture=true), whether their inputs are kept, how long captured rows live, degradation rules
    capture: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # versions published as typed tools of their own (server/model_tools.py): name@alias, name patterns allowed
    model_tools: Annotated[list[str], NoDecode] = Field(default_factory=list)
    capture_inputs: bool = False
    capture_retention_days: float = Field(default=90.0, ge=0)
    quality_rules: dict[str, dict[str, float | bool]] = Field(default_factory=dict)

    _split_lists = field_validator(
        "stdio_scopes",
        "trusted_models",
        "capture",
        "model_tools",
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
