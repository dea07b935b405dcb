"""ASGI middleware: a body-size limit that holds for chunked uploads, and a Japanese 500 for anything
unexpected."""

from __future__ import annotations

import logging

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from bot.api.errors import INTERNAL_ERROR, error_response

log = logging.getLogger(__name__)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"リクエストが大きすぎます（上限 {limit:,} バイト）。質問や会話を短くしてから送ってください。",
        )


class BodyTooSlow(HTTPException):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            408,
            f"リクエスト本文が {seconds:g} 秒以内に届きませんでした。通信状態を確かめて、もう一度送ってください。",
        )


class TrackedSend:
    """`send`, noting whether the response has started: after that, an error can no longer become an error
    response and is raised instead."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: AsgiMessage) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


class BodyLimitMiddleware:
    """Rejects request bodies over `limit` bytes with 413: by Content-Length up front, and by counting the
    bytes actually received, so a chunked or lying client cannot get more in. A body that does not arrive
    within `timeout` seconds (a slow or stalled client holding a connection) gets 408."""

    def __init__(self, app: ASGIApp, limit: int, timeout: float = 30.0) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = BodyTooLarge(self.limit)
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await error_response(413, str(too_large.detail), path=scope.get("path", ""))(scope, receive, send)
            return
        received = 0
        body_done = False
        deadline = anyio.current_time() + self.timeout

        async def counting_receive() -> AsgiMessage:
            nonlocal received, body_done
            if body_done:  # after the body: waiting for a disconnect while streaming has no deadline
                return await receive()
            try:
                with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                    message = await receive()
            except TimeoutError:
                raise BodyTooSlow(self.timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > self.limit:
                    raise too_large
            return message

        tracked = TrackedSend(send)
        try:
            await self.app(scope, counting_receive, tracked)
        except (BodyTooLarge, BodyTooSlow) as exc:
            if tracked.started:
                raise
            await error_response(exc.status_code, str(exc.detail), path=scope.get("path", ""))(
                scope, receive, send
            )


class InternalErrorMiddleware:
    """Any unexpected exception becomes a Japanese 500 (logged here with its traceback). Unlike Starlette's
    own handler it does not re-raise, so the server keeps the client's keep-alive connection open."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = TrackedSend(send)
        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            log.error("unexpected error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
            if tracked.started:
                raise
            await error_response(500, INTERNAL_ERROR, path=scope.get("path", ""))(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
