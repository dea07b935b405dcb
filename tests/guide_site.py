"""A real HTTP server on 127.0.0.1 for `dxnavi corpus fetch`: serves PDFs (with Range, and a connection cut
halfway when asked) and HTML landing pages, answers 301 for moved pages and 404 for anything else."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class GuideServer(ThreadingHTTPServer):
    """Serves `files` by path; a path in `cut_once` loses its connection halfway through the first body."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), GuideHandler)
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}  # path → Location (301 Moved Permanently)
        self.cut_once: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class GuideHandler(BaseHTTPRequestHandler):
    server: GuideServer

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self.server.requests.append((self.path, self.headers.get("Range")))
        if self.path in self.server.redirects:
            self.send_response(301)
            self.send_header("Location", self.server.redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = self.server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        range_header = self.headers.get("Range")
        if range_header and range_header.startswith("bytes="):
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        html = self.path.endswith((".html", "/"))
        self.send_header("Content-Type", "text/html; charset=utf-8" if html else "application/pdf")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if self.path in self.server.cut_once:
            self.server.cut_once.discard(self.path)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def guide_server() -> Iterator[GuideServer]:
    server = GuideServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


__all__ = ["GuideServer", "guide_server"]
