"""A real Chroma server for tests: `chroma run --path TMP --host 127.0.0.1 --port N` in a subprocess.

Test modules load it as a plugin (`pytest_plugins = ["tests.chroma_server"]`) to get the session-wide
`chroma_server` fixture; `ChromaServer` can also be used directly (stop/restart on the same port and path).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def chroma_executable() -> str | None:
    """The `chroma` CLI of the running interpreter's environment (installed by the chromadb package)."""
    beside = Path(sys.executable).parent / "chroma"
    if beside.is_file():
        return str(beside)
    return shutil.which("chroma")


class ChromaServer:
    """One `chroma run` process on 127.0.0.1; stop() and start() keep the same port and data path."""

    def __init__(self, path: Path, port: int | None = None, log_path: Path | None = None) -> None:
        executable = chroma_executable()
        if executable is None:
            raise RuntimeError("the `chroma` CLI (from the chromadb package) is not installed")
        self.executable = executable
        self.path = path
        self.port = port or free_port()
        self.log_path = log_path or path.parent / f"chroma-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return HOST

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def alive(self) -> bool:
        """True when the heartbeat endpoint answers 200."""
        try:
            return httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self, timeout: float = 30.0) -> ChromaServer:
        """Start the server and wait for its heartbeat; raises with the server's log on failure."""
        if self._process is not None and self._process.poll() is None:
            return self
        self.path.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [self.executable, "run", "--path", str(self.path), "--host", HOST, "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if self.alive():
                return self
            time.sleep(0.1)
        self.stop()
        log_tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise RuntimeError(f"chroma server on port {self.port} did not start within {timeout}s:\n{log_tail}")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait until the port no longer answers."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)

    def restart(self, timeout: float = 30.0) -> ChromaServer:
        self.stop()
        return self.start(timeout)

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """A Chroma server shared by the whole session (tests use their own collection prefix)."""
    if chroma_executable() is None:
        pytest.fail("the `chroma` CLI is missing: install the project with `pip install -e .` (chromadb)")
    root = tmp_path_factory.mktemp("chroma-server")
    with ChromaServer(root / "data") as server:
        yield server
