"""HTTP client for the DXナビ API, used by the Streamlit UI (the UI never opens the index itself)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx

from bot.schemas import ChatResponse, Message

START_HINT = (
    "API を起動してください: プロジェクトのフォルダで `make run`（API と画面をまとめて起動）"
    "または `dxnavi serve`（API だけ）を実行します。"
)


class ApiUnavailable(Exception):
    """The API cannot be reached (not started, wrong URL)."""

    def __init__(self, base_url: str) -> None:
        self.message = f"DXナビの API（{base_url}）に接続できません。{START_HINT}"
        super().__init__(self.message)


class ApiError(Exception):
    """The API answered with an error; `detail` is its Japanese message."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class ChatEvent:
    """One streamed event: `delta` (answer text), `final` (the whole response) or `error`."""

    kind: str
    text: str = ""
    response: ChatResponse | None = None
    status: int = 0


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail) if detail else f"API がエラーを返しました（HTTP {response.status_code}）。"


# The browser session a request is made for (set per Streamlit script run): the API keeps each session's
# rate limit apart, although every request comes from the UI's one address and key.
SESSION: ContextVar[str | None] = ContextVar("dxnavi_session", default=None)


def _session_headers() -> dict[str, str]:
    session = SESSION.get()
    return {"X-Dxnavi-Session": session} if session else {}


class ApiClient:
    """Thin synchronous client; one per API URL (the UI caches it)."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 60.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"base_url: http:// か https:// で始まる URL を指定してください（指定: {base_url!r}）"
            )
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, headers=_session_headers(), **kwargs)
        except httpx.TransportError as exc:
            raise ApiUnavailable(self.base_url) from exc
        if response.status_code >= 400:
            raise ApiError(response.status_code, _detail(response))
        return response

    def ready(self) -> dict[str, Any]:
        """/readyz: raises ApiUnavailable when down, ApiError(503) when the index is missing."""
        return dict(self._request("GET", "/readyz", timeout=5.0).json())

    def chat(self, messages: list[Message]) -> ChatResponse:
        body = {"messages": [m.model_dump() for m in messages]}
        return ChatResponse.model_validate(self._request("POST", "/v1/chat", json=body).json())

    def stream_chat(self, messages: list[Message]) -> Iterator[ChatEvent]:
        """POST /v1/chat with stream=true; yields events as the Server-Sent Events arrive."""
        body = {"messages": [m.model_dump() for m in messages], "stream": True}
        try:
            with self._http.stream("POST", "/v1/chat", json=body, headers=_session_headers()) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ApiError(response.status_code, _detail(response))
                yield from parse_events(response.iter_lines())
        except httpx.TransportError as exc:
            raise ApiUnavailable(self.base_url) from exc

    def search(self, query: str, k: int = 5, doc_ids: list[str] | None = None) -> dict[str, Any]:
        body = {"query": query, "k": k, "doc_ids": doc_ids or None}
        return dict(self._request("POST", "/v1/search", json=body).json())

    def documents(self) -> list[dict[str, Any]]:
        return list(self._request("GET", "/v1/documents").json()["documents"])

    def stages(self) -> list[dict[str, Any]]:
        return list(self._request("GET", "/v1/stages").json())

    def agencies(self) -> list[dict[str, Any]]:
        return list(self._request("GET", "/v1/agencies").json())

    def memo(self, messages: list[Message], fmt: str = "pdf", **fields: Any) -> bytes:
        """POST /v1/memo: the 相談メモ file (PDF or Markdown). `fields`: agency_id, company_name, industry,
        employees (None or empty: left out)."""
        body: dict[str, Any] = {"messages": [m.model_dump() for m in messages], "format": fmt}
        body.update({k: v for k, v in fields.items() if v not in (None, "")})
        return self._request("POST", "/v1/memo", json=body, timeout=120.0).content

    def feedback(self, message_id: str, rating: str, comment: str | None = None) -> dict[str, Any]:
        body = {"message_id": message_id, "rating": rating, "comment": comment or None}
        return dict(self._request("POST", "/v1/feedback", json=body).json())


def parse_events(lines: Iterator[str]) -> Iterator[ChatEvent]:
    """Server-Sent Events lines → ChatEvent (the API sends `delta`, `final` and `error` events)."""
    event, data = "message", list[str]()
    for line in lines:
        if line == "":
            if data:
                yield _to_event(event, "\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield _to_event(event, "\n".join(data))


def _to_event(kind: str, data: str) -> ChatEvent:
    payload = json.loads(data)
    if kind == "delta":
        return ChatEvent("delta", text=payload.get("text", ""))
    if kind == "final":
        return ChatEvent("final", response=ChatResponse.model_validate(payload))
    if kind == "error":
        return ChatEvent("error", text=str(payload.get("detail", "")), status=int(payload.get("status", 500)))
    return ChatEvent(kind, text=data)
