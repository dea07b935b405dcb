"""Real servers for the API, UI and browser tests: the API under uvicorn in a background thread, the UI
under `streamlit run` in a subprocess, both on 127.0.0.1 and a free port."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn

from ground.config import Settings, load_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.advisor import Advisor
    from tests.conftest import BuiltIndex


_ADVISORS: dict[Path, Advisor] = {}


def shared_advisor(built: BuiltIndex) -> Advisor:
    """One Advisor over the session's built index for the whole test run (it takes seconds to build)."""
    from bot.advisor import Advisor

    settings, index = built
    if settings.index_dir not in _ADVISORS:
        _ADVISORS[settings.index_dir] = Advisor(settings, index)
    return _ADVISORS[settings.index_dir]


def remember_advisor(built: BuiltIndex, advisor: Advisor | None) -> None:
    """Share an advisor that an app already loaded (in its lifespan) with later tests."""
    if advisor is not None:
        _ADVISORS.setdefault(built[0].index_dir, advisor)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def api_settings(built: BuiltIndex, root: Path, **overrides: Any) -> Settings:
    """Settings on a fresh data folder (own feedback DB) that reads the session's read-only built index."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "index").symlink_to(built[0].index_dir, target_is_directory=True)
    values: dict[str, Any] = {"rate_limit_per_minute": 100_000}
    values.update(overrides)
    return load_settings(data_dir=data, corpus_dir=built[0].corpus_dir, **values)


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 in a background thread; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


@contextmanager
def streamlit_app(api_url: str, data_dir: Path) -> Iterator[str]:
    """`streamlit run ui/app.py` on a free port, talking to `api_url`; yields the UI's URL."""
    import os

    from ground.processes import stop_processes, ui_command, wait_until_ready

    port = free_port()
    env = {**os.environ, "DXNAVI_API_URL": api_url, "DXNAVI_DATA_DIR": str(data_dir)}
    log = (data_dir / "streamlit.log").open("wb")
    proc = subprocess.Popen(
        ui_command("127.0.0.1", port), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{url}/_stcore/health", proc, "Streamlit", timeout=120)
        yield url
    finally:
        stop_processes([proc])
        log.close()


def sse_events(response: httpx.Response) -> list[tuple[str, str]]:
    """(event, data) pairs of a Server-Sent Events response."""
    events: list[tuple[str, str]] = []
    event, data = "message", list[str]()
    for line in response.iter_lines():
        if line == "":
            if data:
                events.append((event, "\n".join(data)))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        events.append((event, "\n".join(data)))
    return events
