"""`dxnavi doctor`: each check on a real installation state.

A fresh data folder, a built index, and real servers on 127.0.0.1 (Chroma, a port holder, an Ollama stand-in).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from dxnavi.cli import app
from dxnavi.ops import Check, check_index, check_llm, check_ports, check_store, run_checks
from ground.config import Settings
from tests.chroma_server import ChromaServer, free_port

pytest_plugins = ["tests.chroma_server"]


def with_free_ports(settings: Settings, **changes: object) -> Settings:
    """The same settings on ports nothing uses (the machine running the tests may serve 8000/8501)."""
    return settings.model_copy(update={"api_port": free_port(), "ui_port": free_port(), **changes})


def by_item(checks: list[Check], prefix: str) -> Check:
    [found] = [c for c in checks if c.item.startswith(prefix)]
    return found


def run_doctor(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Result:
    monkeypatch.setenv("COLUMNS", "400")  # one table row per line, so messages are not wrapped
    for name, value in {
        "DXNAVI_DATA_DIR": str(settings.data_dir),
        "DXNAVI_CORPUS_DIR": str(settings.corpus_dir),
        "DXNAVI_STORE": settings.store,
        "DXNAVI_CHROMA_PORT": str(settings.chroma_port),
        "DXNAVI_COLLECTION_PREFIX": settings.collection_prefix,
        "DXNAVI_API_PORT": str(settings.api_port),
        "DXNAVI_UI_PORT": str(settings.ui_port),
    }.items():
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(app, ["doctor"])


def test_doctor_on_a_fresh_data_folder_fails_and_says_to_run_ingest(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = with_free_ports(settings)

    index = by_item(run_checks(settings), "索引")
    result = run_doctor(settings, monkeypatch)

    assert index.status == "fail"
    assert "`dxnavi ingest`" in index.fix
    assert result.exit_code == 1
    assert "dxnavi ingest" in result.output
    assert "項目" in result.output and "対処" in result.output
    assert "問題が" in result.output


def test_doctor_after_ingest_passes(
    built_index: tuple[Settings, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = with_free_ports(built_index[0])

    checks = run_checks(settings)
    result = run_doctor(settings, monkeypatch)

    assert [c for c in checks if c.status == "fail"] == []
    assert by_item(checks, "索引").status == "ok"
    assert by_item(checks, "コーパスと索引").status == "ok"
    assert by_item(checks, "ベクトルストア").status == "ok"
    assert result.exit_code == 0, result.output


def test_doctor_warns_when_the_corpus_changed_after_ingest(
    built_index: tuple[Settings, object], tmp_path: Path
) -> None:
    import shutil

    corpus = shutil.copytree(built_index[0].corpus_dir, tmp_path / "corpus")
    (corpus / "new-guide.md").write_text("# 新しいガイド\n\nDX推進の新しい手引きです。\n", encoding="utf-8")
    settings = built_index[0].model_copy(update={"corpus_dir": corpus})

    stale = by_item(check_index(settings), "コーパスと索引")

    assert stale.status == "warn"
    assert "`dxnavi ingest`" in stale.fix


def test_doctor_reports_an_index_built_with_another_model(built_index: tuple[Settings, object]) -> None:
    settings = built_index[0].model_copy(
        update={"embedding_engine": "sentence-transformers", "embedding_model": "cl-nagoya/ruri-v3-30m"}
    )

    [index] = check_index(settings)

    assert index.status == "fail"
    assert "cl-nagoya/ruri-v3-30m" in index.result
    assert "--rebuild" in index.fix


def test_doctor_in_server_mode_with_chroma_down_fails_with_how_to_start_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = with_free_ports(settings, store="server", chroma_port=free_port())

    [store] = check_store(settings)
    result = run_doctor(settings, monkeypatch)

    assert store.status == "fail"
    assert "接続できません" in store.result
    assert "chroma run" in store.fix
    assert result.exit_code == 1


def test_doctor_in_server_mode_reaches_a_running_chroma(
    chroma_server: ChromaServer, settings: Settings
) -> None:
    settings = settings.model_copy(update={"store": "server", "chroma_port": chroma_server.port})

    [store] = check_store(settings)

    assert store.status == "ok"
    assert "接続できます" in store.result


def test_doctor_reports_a_port_in_use(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        settings = with_free_ports(settings, api_port=busy.getsockname()[1])

        api, ui = check_ports(settings)
        result = run_doctor(settings, monkeypatch)

    assert api.status == "fail"
    assert "別のプログラムが使っています" in api.result
    assert "DXNAVI_API_PORT=" in api.fix
    assert ui.status == "ok"
    assert result.exit_code == 1


class FakeOllama(ThreadingHTTPServer):
    """Answers GET /api/tags like Ollama does, listing `models`."""

    daemon_threads = True

    def __init__(self, models: list[str]) -> None:
        super().__init__(("127.0.0.1", 0), _TagsHandler)
        self.models = models


class _TagsHandler(BaseHTTPRequestHandler):
    server: FakeOllama

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path != "/api/tags":
            self.send_error(404)
            return
        body = json.dumps({"models": [{"name": m, "model": m} for m in self.server.models]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    server = FakeOllama(["qwen2.5:7b"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_doctor_checks_the_llm_backend_and_its_model(settings: Settings, ollama: FakeOllama) -> None:
    base = f"http://127.0.0.1:{ollama.server_address[1]}"
    configured = settings.model_copy(update={"llm_backend": "ollama", "llm_base_url": base})

    [ok] = check_llm(configured.model_copy(update={"llm_model": "qwen2.5:7b"}))
    [missing] = check_llm(configured.model_copy(update={"llm_model": "gemma3:12b"}))
    [down] = check_llm(
        configured.model_copy(
            update={"llm_model": "qwen2.5:7b", "llm_base_url": f"http://127.0.0.1:{free_port()}"}
        )
    )
    [off] = check_llm(settings)

    assert ok.status == "ok"
    assert missing.status == "fail" and "`ollama pull gemma3:12b`" in missing.fix
    assert down.status == "fail" and "ollama serve" in down.fix
    assert off.status == "ok" and "抜粋モード" in off.result


def test_doctor_says_which_full_guides_are_in_the_corpus_and_how_to_fetch_them(settings: Settings) -> None:
    from dxnavi.ops import check_guides

    [none] = check_guides(settings)
    assert none.status == "ok"  # the bundled overview is enough to run
    assert none.result.startswith("0/5 件")
    assert "dxnavi corpus fetch" in none.fix

    (settings.corpus_dir / "dgc-3.0.pdf").write_bytes(b"%PDF-1.7 placeholder")
    [one] = check_guides(settings)
    assert one.result.startswith("1/5 件")
    assert "デジタルガバナンス・コード3.0" not in one.fix
