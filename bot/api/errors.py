"""Errors become Japanese JSON, never a stack trace: `{"detail": …}`, or OpenAI's `{"error": {…}}` on the
OpenAI-compatible endpoints (so that the openai library, LangChain and Open WebUI show the message)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ground.errors import DxnaviError

log = logging.getLogger(__name__)

INTERNAL_ERROR = "サーバー内部でエラーが発生しました。時間をおいて、もう一度お試しください。"

STATUS_MESSAGES = {
    400: "リクエストを処理できませんでした。",
    401: "認証が必要です。",
    403: "この操作は許可されていません。",
    404: "指定されたURLは見つかりません。",
    405: "このURLでは、そのHTTPメソッドは使えません。",
    406: "指定された形式では応答できません。",
    413: "リクエストが大きすぎます。",
    415: "Content-Type は application/json にしてください。",
    429: "リクエストが多すぎます。しばらく待ってからお試しください。",
}


OPENAI_PATHS = ("/v1/chat/completions", "/v1/models")
_OPENAI_ERRORS = {
    401: ("authentication_error", "invalid_api_key"),
    404: ("invalid_request_error", "not_found"),
    413: ("invalid_request_error", "request_too_large"),
    422: ("invalid_request_error", "invalid_request"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    503: ("server_error", "service_unavailable"),
}


def error_response(
    status: int, detail: str, headers: dict[str, str] | None = None, path: str = ""
) -> JSONResponse:
    # A message may quote what the client sent (an unknown id): a lone surrogate in it cannot be
    # encoded as JSON, so it becomes 「?」 rather than a 500.
    detail = detail.encode("utf-8", "replace").decode("utf-8")
    body = openai_error(status, detail) if path.startswith(OPENAI_PATHS) else {"detail": detail}
    return JSONResponse(body, status_code=status, headers=headers)


def openai_error(status: int, detail: str) -> dict[str, Any]:
    """An error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""
    kind, code = _OPENAI_ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    return {"error": {"message": detail, "type": kind, "param": None, "code": code}}


def stream_error(exc: BaseException) -> tuple[int, str]:
    """Status and Japanese message of an error raised while a response is already streaming."""
    if isinstance(exc, DxnaviError):
        return exc.http_status, exc.public_message
    log.error("unexpected error while streaming", exc_info=exc)
    return 500, INTERNAL_ERROR


_VALIDATION_MESSAGES = {
    "missing": "必須の項目がありません",
    "string_type": "文字列で指定してください",
    "bool_type": "true か false で指定してください",
    "bool_parsing": "true か false で指定してください",
    "int_type": "整数で指定してください",
    "int_parsing": "整数で指定してください",
    "list_type": "配列で指定してください",
    "model_type": "オブジェクトで指定してください",
    "model_attributes_type": "オブジェクトで指定してください",
    "dict_type": "オブジェクトで指定してください",
    "json_invalid": "JSON として読めません",
    "string_too_short": "空にはできません",
}


def _validation_text(errors: list[dict[str, Any]]) -> str:
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "本文"
        kind = err.get("type", "")
        ctx = err.get("ctx") or {}
        if kind == "literal_error":
            text = f"使える値は {ctx.get('expected', '')} です"
        elif kind == "string_too_long":
            text = f"{ctx.get('max_length')}文字以内にしてください"
        elif kind in ("greater_than_equal", "greater_than"):
            text = f"{ctx.get('ge', ctx.get('gt'))}以上にしてください"
        elif kind in ("less_than_equal", "less_than"):
            text = f"{ctx.get('le', ctx.get('lt'))}以下にしてください"
        else:
            text = _VALIDATION_MESSAGES.get(kind, "値が正しくありません")
        parts.append(f"{loc}: {text}")
    return "リクエストの形式が正しくありません（" + "、".join(parts) + "）。/docs の例を参考にしてください。"


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DxnaviError)
    async def dxnavi_error(request: Request, exc: DxnaviError) -> JSONResponse:
        return error_response(exc.http_status, exc.public_message, path=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, _validation_text(list(exc.errors())), path=request.url.path)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) and not exc.detail.isascii() else None
        if detail is None:
            detail = STATUS_MESSAGES.get(exc.status_code, "リクエストを処理できませんでした。")
            if exc.status_code == 404:
                detail = (
                    f"指定されたURL（{request.url.path}）は見つかりません。使えるURLは /docs を見てください。"
                )
        return error_response(
            exc.status_code, detail, dict(exc.headers) if exc.headers else None, path=request.url.path
        )
