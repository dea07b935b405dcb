"""Start, watch and stop the app's processes: the API (uvicorn) and the UI (Streamlit) as children, ready
checks, ports, and stopping on Ctrl-C. Used by the `dxnavi` commands, the API benchmark and the tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from ground import threads
from ground.errors import DxnaviError

if TYPE_CHECKING:
    from ground.config import Settings

UI_APP = Path(__file__).resolve().parent.parent / "ui" / "app.py"
API_FACTORY = "bot.api:create_app_from_env"  # for `uvicorn --factory`
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0


class StartupError(DxnaviError):
    """The API or UI process did not come up."""


def local_url(host: str, port: int) -> str:
    """URL for reaching a server bound to `host` from this machine (0.0.0.0 / :: → 127.0.0.1)."""
    reach = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{reach}:{port}"


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1" if host in ("0.0.0.0", "") else host, port))
        except OSError:
            return True
    return False


def check_port_free(host: str, port: int, option: str) -> None:
    if port_in_use(host, port):
        raise StartupError(
            f"ポート {port} はすでに使われています。{option} で別のポートを指定するか、"
            "そのポートを使っているプロセスを止めてください。"
        )


def child_env(settings: Settings, config: Path | None) -> dict[str, str]:
    """Environment for the API/UI child processes: the parent's plus what they must agree on."""
    env = dict(os.environ)
    env.update(threads.thread_env(settings.threads, env))
    env["DXNAVI_API_URL"] = settings.api_url
    env["DXNAVI_DATA_DIR"] = str(settings.data_dir)
    env["DXNAVI_CORPUS_DIR"] = str(settings.corpus_dir)
    if config is not None:
        env["DXNAVI_CONFIG"] = str(config.resolve())
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def api_command(host: str, port: int, workers: int = 1, quiet: bool = False) -> list[str]:
    cmd = [
        sys.executable, "-m", "uvicorn", API_FACTORY, "--factory",
        "--host", host, "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    if quiet:
        cmd += ["--log-level", "warning", "--no-access-log"]
    return cmd


def ui_command(host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(UI_APP),
        "--server.address", host, "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
        "--theme.base", "light", "--theme.primaryColor", "#1f5fae",
    ]  # fmt: skip


def wait_until_ready(
    url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = READY_TIMEOUT_S
) -> None:
    """Poll `url` until it answers 200; fail early if the process exits."""
    import httpx

    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise StartupError(
                f"{what}が起動できませんでした（終了コード {code}）。上のログを確認してください。"
            )
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200:
                return
            last = response.json().get("detail", "") if response.content else ""
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise StartupError(f"{what}が {timeout:.0f} 秒以内に準備できませんでした（{url}）。{last}")


def stop_processes(procs: Sequence[subprocess.Popen[bytes]], timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM each child's process group, wait, then SIGKILL whatever is still running."""
    for proc in procs:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(proc.pid, sig)


class Stop(Exception):
    """Raised in the main thread by SIGINT/SIGTERM so that children are stopped in `finally`."""


@contextmanager
def stop_on_signals() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise Stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def supervise(
    procs: Sequence[subprocess.Popen[bytes]], names: Sequence[str], echo: Callable[[str], None]
) -> int:
    """Wait until Ctrl-C / SIGTERM (exit 0) or until a child exits on its own (its exit code); stop all."""
    try:
        with stop_on_signals():
            while True:
                for proc, name in zip(procs, names, strict=True):
                    code = proc.poll()
                    if code is not None:
                        echo(f"{name}が終了しました（終了コード {code}）。ほかのプロセスも止めます。")
                        return code or 1
                time.sleep(0.3)
    except Stop:
        echo("停止しています…")
        return 0
    finally:
        stop_processes(procs)
