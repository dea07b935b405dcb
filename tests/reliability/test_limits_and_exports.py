"""Exports and limits: the feedback CSV never hands a spreadsheet a formula (read back with the csv module);
rate limits are kept per API key, failed keys count apart, and forwarded addresses count only from
trusted proxies (a rotating X-Forwarded-For does not dodge the limit)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from bot.api import create_app
from tests.conftest import BuiltIndex
from tests.servers import api_settings, serve, shared_advisor

pytestmark = pytest.mark.slow


def ask_body(question: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": question}]}


@pytest.fixture(scope="module")
def http(built_index: BuiltIndex, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    app = create_app(
        api_settings(built_index, tmp_path_factory.mktemp("limits")), shared_advisor(built_index)
    )
    with serve(app) as url, httpx.Client(base_url=url, timeout=120) as client:
        yield client


@pytest.mark.parametrize(
    "comment",
    [
        "=cmd|' /C calc'!A0",
        '=HYPERLINK("http://example.com","詳しく")',
        "+1+1",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1+1",
    ],
)
def test_feedback_export_never_hands_a_spreadsheet_a_formula(http: httpx.Client, comment: str) -> None:
    answer = http.post("/v1/chat", json=ask_body("=DX認定のメリットは？")).json()
    mid = answer["message_id"]
    http.post("/v1/feedback", json={"message_id": mid, "rating": "down", "comment": comment})
    rows = list(csv.DictReader(io.StringIO(http.get("/v1/feedback/export").content.decode("utf-8-sig"))))
    row = next(r for r in rows if r["message_id"] == mid)
    assert row["comment"] == "'" + comment  # kept, as text
    assert row["question"] == "'=DX認定のメリットは？"
    for cell in row.values():
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_rate_limit_answers_429_with_retry_after(built_index: BuiltIndex, tmp_path: Path) -> None:
    app = create_app(
        api_settings(built_index, tmp_path, rate_limit_per_minute=3), shared_advisor(built_index)
    )
    with serve(app) as url, httpx.Client(base_url=url) as client:
        codes = [client.get("/v1/stages").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = client.get("/v1/agencies")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert "1分あたり 3 回" in limited.json()["detail"]
        assert client.get("/healthz").status_code == 200


def test_rate_limit_is_kept_per_api_key_and_failed_keys_never_use_a_valid_keys_allowance(
    built_index: BuiltIndex, tmp_path: Path
) -> None:
    settings = api_settings(
        built_index, tmp_path, rate_limit_per_minute=3, api_key="key-a", api_keys=["key-b"]
    )
    with (
        serve(create_app(settings, shared_advisor(built_index))) as url,
        httpx.Client(base_url=url) as client,
    ):

        def get(key: str) -> int:
            return client.get("/v1/stages", headers={"Authorization": f"Bearer {key}"}).status_code

        assert [get("wrong") for _ in range(4)] == [401, 401, 401, 429]  # failures: a bucket of their own
        assert [get("key-a") for _ in range(4)] == [200, 200, 200, 429]  # untouched by the failures
        assert [get("key-b") for _ in range(3)] == [200, 200, 200]  # one front-end does not starve another


def test_forwarded_addresses_count_only_from_trusted_proxies(built_index: BuiltIndex, tmp_path: Path) -> None:
    from bot.api.deps import client_address

    def addr(peer: str, forwarded: str | None, trusted: list[str]) -> str:
        scope = {
            "type": "http",
            "client": (peer, 1234),
            "headers": [(b"x-forwarded-for", forwarded.encode())] if forwarded else [],
        }
        return client_address(Request(scope), trusted)

    # An untrusted peer's header is ignored: rotating it does not dodge the limit.
    assert addr("203.0.113.9", "1.2.3.4", []) == "203.0.113.9"
    assert addr("203.0.113.9", "1.2.3.4", ["10.0.0.0/8"]) == "203.0.113.9"
    # Behind a trusted proxy: the nearest address the proxy did not add itself.
    assert addr("10.0.0.5", "198.51.100.7", ["10.0.0.0/8"]) == "198.51.100.7"
    assert addr("10.0.0.5", "6.6.6.6, 198.51.100.7, 10.0.0.4", ["10.0.0.0/8"]) == "198.51.100.7"

    settings = api_settings(built_index, tmp_path, rate_limit_per_minute=2, trusted_proxies=["127.0.0.1/32"])
    with (
        serve(create_app(settings, shared_advisor(built_index))) as url,
        httpx.Client(base_url=url) as client,
    ):

        def get(user: str) -> int:
            return client.get("/v1/stages", headers={"X-Forwarded-For": user}).status_code

        assert [get("198.51.100.1") for _ in range(3)] == [200, 200, 429]
        assert get("198.51.100.2") == 200  # another user behind the same proxy has their own allowance


def test_each_browser_session_of_a_front_end_has_its_own_allowance_within_a_shared_cap(
    built_index: BuiltIndex, tmp_path: Path
) -> None:
    """The UI calls from one address with one key for everyone: it names each person's session, and each
    session gets the limit; new session names do not buy more than SESSION_SHARE times it together."""
    from bot.api.deps import SESSION_SHARE

    settings = api_settings(built_index, tmp_path, rate_limit_per_minute=2, api_key="ui-key")
    with (
        serve(create_app(settings, shared_advisor(built_index))) as url,
        httpx.Client(base_url=url, headers={"Authorization": "Bearer ui-key"}) as client,
    ):

        def get(session: str | None) -> int:
            headers = {"X-Dxnavi-Session": session} if session else {}
            return client.get("/v1/stages", headers=headers).status_code

        assert [get("session-aaaaaaaa") for _ in range(3)] == [200, 200, 429]
        assert [get("session-bbbbbbbb") for _ in range(2)] == [200, 200]  # another person is not throttled
        assert (
            get("bad id!") == 200 and get("bad id!") == 200 and get("bad id!") == 429
        )  # no valid id: the key's own
        rotating = [get(f"session-{i:08d}") for i in range(SESSION_SHARE * 2 + 5)]
        assert rotating.count(200) <= SESSION_SHARE * 2 and rotating[-1] == 429


def test_the_ui_client_names_its_browser_session_so_two_people_are_not_throttled_together(
    built_index: BuiltIndex, tmp_path: Path
) -> None:
    from ui.client import SESSION, ApiClient, ApiError

    settings = api_settings(built_index, tmp_path, rate_limit_per_minute=1)
    with serve(create_app(settings, shared_advisor(built_index))) as url:
        client = ApiClient(url)
        for person in ("person-aaaaaaaa", "person-bbbbbbbb"):  # one address, one allowance each
            token = SESSION.set(person)
            try:
                assert client.stages()
            finally:
                SESSION.reset(token)
        assert client.stages()  # no session named: the address's own allowance, still unused
        with pytest.raises(ApiError) as limited:
            client.stages()
        assert limited.value.status == 429


def test_a_client_that_stalls_its_body_gets_408_and_the_server_goes_on(
    built_index: BuiltIndex, tmp_path: Path
) -> None:
    import json
    import socket
    import time
    from urllib.parse import urlparse

    settings = api_settings(built_index, tmp_path, body_timeout_s=1.0)
    with serve(create_app(settings, shared_advisor(built_index))) as url:
        address = urlparse(url)
        stalled = []
        for _ in range(5):  # several slow clients at once
            sock = socket.create_connection((address.hostname, address.port), timeout=10)
            sock.sendall(
                b"POST /v1/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 200\r\n\r\n{"messages":'
            )
            stalled.append(sock)
        started = time.monotonic()
        # Meanwhile others are served.
        ok = httpx.post(f"{url}/v1/chat", json=ask_body("DX認定のメリットは？"), timeout=60)
        assert ok.status_code == 200
        for sock in stalled:
            reply = sock.recv(4096).decode("utf-8", errors="replace")
            sock.close()
            status, _, rest = reply.partition("\r\n")
            assert " 408 " in status, reply[:200]
            body = json.loads(rest.split("\r\n\r\n", 1)[1])
            assert "秒以内に届きませんでした" in body["detail"]
        assert time.monotonic() - started < 30
