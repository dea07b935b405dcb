"""A real OpenAI- and Ollama-compatible HTTP server on 127.0.0.1 that returns scripted completions.

Tests queue `Reply` objects (good answers, hallucinations, junk, HTTP errors, slow replies) and read
back the requests the server received.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "stub-model"


@dataclass(frozen=True)
class Reply:
    """One scripted answer: assistant `content`, or a raw `body` with any `status`, after `delay_s`."""

    content: str = ""
    status: int = 200
    body: str | None = None  # sent verbatim instead of the JSON reply (junk, error pages)
    delay_s: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    body: Any  # parsed JSON, or the raw text when it was not JSON
    headers: dict[str, str] = field(default_factory=dict)

    def messages(self) -> list[dict[str, Any]]:
        """The chat messages of an OpenAI or Ollama chat request."""
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []


def openai_completion(content: str, model: str = MODEL) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def openai_chunks(content: str, model: str = MODEL) -> list[dict[str, Any]]:
    """The same completion as server-sent chunks (one per line of content, then a stop chunk)."""
    pieces = content.splitlines(keepends=True) or [""]
    base = {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }
    chunks = [
        {
            **base,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": p}, "finish_reason": None}],
        }
        for p in pieces
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return chunks


def ollama_chat(content: str, model: str = MODEL, done: bool = True) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "model": model,
        "created_at": "2025-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": content},
        "done": done,
    }
    if done:
        reply.update(done_reason="stop", total_duration=1, eval_count=10, prompt_eval_count=10)
    return reply


class StubLLMServer:
    """Serves POST /v1/chat/completions, GET /v1/models, POST /api/chat and GET /api/tags."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self._server = ThreadingHTTPServer((host, 0), self._handler_class())
        self._server.daemon_threads = True  # a slow reply must not hold up shutdown
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="llm-stub", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def script(self, *replies: Reply | str) -> None:
        """Queue replies; a plain string is a 200 answer with that content."""
        with self._lock:
            self._replies.extend(Reply(content=r) if isinstance(r, str) else r for r in replies)

    def next_reply(self) -> Reply:
        with self._lock:
            if self._replies:
                return self._replies.popleft()
        return Reply(status=500, body='{"error": {"message": "stub: no scripted reply left"}}')

    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST"]

    def start(self) -> StubLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> StubLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read `stub.requests` instead."""

            def _record(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                try:
                    body: Any = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = raw
                stub.requests.append(
                    RecordedRequest(
                        self.command, self.path, body, {k.lower(): v for k, v in self.headers.items()}
                    )
                )
                return body

            def _send(self, status: int, payload: bytes, content_type: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test); nothing to answer

            def _json(self, status: int, data: Any) -> None:
                self._send(status, json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/json")

            def do_GET(self) -> None:
                stub.requests.append(RecordedRequest("GET", self.path, None, dict(self.headers.items())))
                if self.path.rstrip("/") == "/v1/models":
                    self._json(
                        200,
                        {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "stub"}]},
                    )
                elif self.path.rstrip("/") == "/api/tags":
                    self._json(200, {"models": [{"name": MODEL, "model": MODEL}]})
                else:
                    self._json(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:
                body = self._record()
                path = self.path.rstrip("/")
                if path not in ("/v1/chat/completions", "/api/chat"):
                    self._json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                reply = stub.next_reply()
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.body is not None or reply.status != 200:
                    ctype = (
                        "application/json" if (reply.body or "").lstrip().startswith("{") else "text/plain"
                    )
                    self._send(reply.status, (reply.body or "").encode("utf-8"), ctype)
                    return
                stream = isinstance(body, dict) and bool(body.get("stream"))
                model = body.get("model", MODEL) if isinstance(body, dict) else MODEL
                if path == "/api/chat":
                    self._ollama(reply.content, model, stream)
                else:
                    self._openai(reply.content, model, stream)

            def _openai(self, content: str, model: str, stream: bool) -> None:
                if not stream:
                    self._json(200, openai_completion(content, model))
                    return
                events = [
                    f"data: {json.dumps(c, ensure_ascii=False)}\n\n" for c in openai_chunks(content, model)
                ]
                events.append("data: [DONE]\n\n")
                self._send(200, "".join(events).encode("utf-8"), "text/event-stream")

            def _ollama(self, content: str, model: str, stream: bool) -> None:
                if not stream:
                    self._json(200, ollama_chat(content, model))
                    return
                lines = [ollama_chat(p, model, done=False) for p in content.splitlines(keepends=True)]
                lines.append(ollama_chat("", model, done=True))
                payload = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
                self._send(200, payload.encode("utf-8"), "application/x-ndjson")

        return Handler


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
