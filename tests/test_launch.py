"""`dxnavi run` / `serve` / `ui`: both servers start and print their URLs, Ctrl-C stops both, and the
commands refuse what cannot work with a Japanese reason."""

from __future__ import annotations

import os
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


def test_serve_refuses_several_workers_with_the_embedded_store() -> None:
    result = CliRunner().invoke(app, ["serve", "--workers", "2"])
    assert result.exit_code == 2
    text = " ".join(result.output.split())  # rich wraps long lines
    assert "--workers を2以上にできるのは" in text and 'store = "server"' in text


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
