"""`dxnavi run` / `serve` / `ui`: both servers start and print their URLs, Ctrl-C stops both, and the
commands refuse what cannot work with a Japanese reason."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from dxnavi.cli import app
from ground.processes import child_env, local_url, port_in_use, ui_command
from tests.conftest import BuiltIndex
from tests.servers import free_port

CLI = [sys.executable, "-c", "from dxnavi.cli import app; app()"]


def test_two_workers_on_the_embedded_store_each_read_a_private_copy_and_pick_up_a_new_build(
    built_index: BuiltIndex, tmp_path: Path
) -> None:
    settings, _ = built_index
    data, corpus = tmp_path / "data", tmp_path / "corpus"
    shutil.copytree(settings.index_dir, data / "index", symlinks=True)
    shutil.copytree(settings.corpus_dir, corpus)
    env = {**os.environ, "DXNAVI_DATA_DIR": str(data), "DXNAVI_CORPUS_DIR": str(corpus)}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [*CLI, "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    replicas = data / "replicas"
    try:
        deadline = time.monotonic() + 240
        # Two finished copies (a copy in progress is a hidden 「.….tmp」 folder until it is complete).
        while time.monotonic() < deadline and len(list(replicas.glob("[!.]*.*"))) < 2:
            time.sleep(0.5)
        copies = sorted(p.name for p in replicas.iterdir() if not p.name.startswith("."))
        old_build = settings.index_dir.joinpath("CURRENT").read_text().strip()
        assert len(copies) == 2 and all(c.startswith(old_build + ".") for c in copies), copies
        assert len({c.rsplit(".", 1)[1] for c in copies}) == 2  # two processes, one copy each

        (corpus / "追加資料.md").write_text(
            "# 追加資料\n\nDX推進のための社内勉強会を毎月開き、経営者も参加する。\n", encoding="utf-8"
        )
        ingested = subprocess.run(
            [*CLI, "ingest", "-q"], env=env, capture_output=True, text=True, timeout=300
        )
        assert ingested.returncode == 0, ingested.stdout + ingested.stderr
        new_build = (data / "index" / "CURRENT").read_text().strip()
        assert new_build != old_build

        # Every worker switches by itself, without a restart: 12 answers in a row come from the new build.
        in_a_row, deadline = 0, time.monotonic() + 120
        while in_a_row < 12 and time.monotonic() < deadline:
            docs = httpx.get(f"{url}/v1/documents", timeout=30).json()
            in_a_row = in_a_row + 1 if docs["build_id"] == new_build else 0
            time.sleep(0.2)
        assert in_a_row == 12
        assert any(d["file"] == "追加資料.md" for d in docs["documents"])
        assert {p.name.split(".")[0] for p in replicas.iterdir()} >= {new_build}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode == 0
    assert list(replicas.iterdir()) == []  # each worker removed its copies on the way out


def test_run_says_which_port_is_busy(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["run", "--api-port", str(port), "--ui-port", str(free_port())])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert f"ポート {port} はすでに使われています" in text and "--api-port" in text


def test_ui_child_gets_the_api_url_and_the_bundled_app(tmp_path: Path) -> None:
    from ground.config import load_settings

    settings = load_settings(data_dir=tmp_path, api_url="http://127.0.0.1:9999")
    assert child_env(settings, None)["DXNAVI_API_URL"] == "http://127.0.0.1:9999"
    command = ui_command("127.0.0.1", 8600)
    assert command[command.index("run") + 1].endswith("ui/app.py")
    assert local_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"


@pytest.mark.slow
def test_run_starts_api_and_ui_prints_both_urls_and_ctrl_c_stops_both(
    built_index: BuiltIndex, tmp_path: Path
) -> None:
    settings, _ = built_index
    data = tmp_path / "data"
    data.mkdir()
    (data / "index").symlink_to(settings.index_dir, target_is_directory=True)
    api_port, ui_port = free_port(), free_port()
    env = {**os.environ, "DXNAVI_DATA_DIR": str(data), "DXNAVI_CORPUS_DIR": str(settings.corpus_dir)}
    proc = subprocess.Popen(
        [*CLI, "run", "--api-port", str(api_port), "--ui-port", str(ui_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 240
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            output.append(line)
            if "止めるには Ctrl-C" in line:
                break
        text = "".join(output)
        assert "索引は最新です" in text  # nothing to ingest: the session index matches the corpus
        assert f"http://127.0.0.1:{ui_port}" in text and f"http://127.0.0.1:{api_port}" in text
        assert httpx.get(f"http://127.0.0.1:{api_port}/readyz").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{ui_port}/_stcore/health").status_code == 200

        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, text + rest
    assert "API と画面を停止しました" in rest
    assert not port_in_use("127.0.0.1", api_port) and not port_in_use("127.0.0.1", ui_port)
