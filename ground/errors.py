"""Error hierarchy. Messages are Japanese, say what happened and how to fix it."""

from __future__ import annotations


class DxnaviError(Exception):
    """Base of every error dxnavi raises on purpose. `exit_code` is used by the CLI."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # What an HTTP client is told: the same, without local details such as file paths.
        self.public_message = public or message


class ConfigError(DxnaviError):
    """Settings or a config file are invalid."""

    exit_code = 2


class UnknownBackendError(ConfigError):
    """An engine/backend name that is not registered; the message lists the valid names."""

    def __init__(self, kind: str, name: str, valid: list[str]) -> None:
        super().__init__(f"{kind} 「{name}」は使えません。使える名前: {', '.join(sorted(valid))}")
        self.name = name
        self.valid = valid


class MissingDependencyError(DxnaviError):
    """An optional dependency is not installed."""

    exit_code = 2


class IndexMissingError(DxnaviError):
    """No index has been built yet."""

    http_status = 503

    def __init__(self, index_dir: str) -> None:
        super().__init__(
            f"索引がまだありません（{index_dir}）。`dxnavi ingest` を実行して索引を作ってください。",
            public="索引がまだありません。サーバーで `dxnavi ingest` を実行して索引を作ってください。",
        )


class ModelMismatchError(DxnaviError):
    """The index was built with another embedding model than the configured one."""

    http_status = 503

    def __init__(self, built: str, configured: str) -> None:
        super().__init__(
            f"索引は埋め込みモデル {built} で作られていますが、設定のモデルは {configured} です。"
            "`dxnavi ingest --rebuild` で索引を作り直してください。"
        )
        self.built = built
        self.configured = configured


class StoreUnavailableError(DxnaviError):
    """The vector store (Chroma server) cannot be reached."""

    http_status = 503


class QueryError(DxnaviError):
    """The user's question or query is not acceptable (empty, too long, …)."""

    exit_code = 2
    http_status = 422


class IngestError(DxnaviError):
    """Nothing at all could be indexed."""


class LoadError(DxnaviError):
    """One file could not be read; ingest reports it and goes on."""


class LLMError(DxnaviError):
    """The LLM backend failed (down, timeout, junk); the advisor falls back to extractive."""

    http_status = 502


class FetchError(DxnaviError):
    """Downloading an official guide failed."""
