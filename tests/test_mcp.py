"""`dxnavi mcp`: the real server over stdio and streamable HTTP, driven by the official SDK's own client."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client, StdioServerParameters

from bot import catalog
from ingest.normalize import compact
from tests.conftest import BuiltIndex
from tests.servers import free_port

TOOLS = {"search_guides", "lookup_clause", "ask_advisor", "list_agencies"}
DXNAVI = str(Path(sys.executable).with_name("dxnavi"))


def server_env(built: BuiltIndex, root: Path, **extra: str) -> dict[str, str]:
    """The environment of a `dxnavi mcp` child that reads the session's built index (read-only)."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    if not (data / "index").exists():
        (data / "index").symlink_to(built.settings.index_dir, target_is_directory=True)
    return {
        **os.environ,
        "DXNAVI_DATA_DIR": str(data),
        "DXNAVI_CORPUS_DIR": str(built.settings.corpus_dir),
        "OMP_WAIT_POLICY": "PASSIVE",
        **extra,
    }


async def call_all(client: Client) -> dict[str, Any]:
    """List the tools, then call each one (and two that must fail), returning what came back."""
    listed = await client.list_tools()
    out: dict[str, Any] = {"tools": {t.name: t for t in listed.tools}}
    out["search"] = await client.call_tool("search_guides", {"query": "DX認定のメリットは？", "k": 3})
    out["clause"] = await client.call_tool("lookup_clause", {"clause": "柱3-3"})
    out["bad_clause"] = await client.call_tool("lookup_clause", {"clause": "柱9"})
    out["ask"] = await client.call_tool(
        "ask_advisor", {"question": "受発注をFAXと電話でやっている町工場です。何から始めればいい？"}
    )
    first = out["ask"].structured_content["answer"]
    out["follow_up"] = await client.call_tool(
        "ask_advisor",
        {
            "question": "相談するとき、何を持っていけばいい？",
            "history": [
                {"role": "user", "content": "受発注をFAXと電話でやっている町工場です。何から始めればいい？"},
                {"role": "assistant", "content": first},
            ],
        },
    )
    out["off_topic"] = await client.call_tool("ask_advisor", {"question": "おすすめのラーメン屋は？"})
    out["empty"] = await client.call_tool("ask_advisor", {"question": "   "})
    out["agencies"] = await client.call_tool("list_agencies", {})
    return out


@pytest.fixture(scope="module")
def corpus_text(built_index: BuiltIndex) -> str:
    """Every indexed chunk, compacted, one per line (a quote never spans two)."""
    return "\n".join(compact(c.text) for c in built_index.index.chunks)


def check_answers(out: dict[str, Any], corpus_text: str) -> None:
    assert set(out["tools"]) == TOOLS
    for tool in out["tools"].values():
        assert tool.description and tool.annotations.read_only_hint is True

    search = out["search"].structured_content
    assert not out["search"].is_error and len(search["results"]) == 3
    assert any("DX認定" in p["text"] for p in search["results"])
    for p in search["results"]:
        assert f"\n{compact(p['text'])}\n" in f"\n{corpus_text}\n" and p["title"] and p["page"]

    clause = out["clause"].structured_content
    assert "ITシステム・サイバーセキュリティ" in clause["answer"].splitlines()[0]
    assert clause["covered"] and clause["sources"]
    for source in clause["sources"]:
        assert compact(source["quote"]) in corpus_text
        assert f"[{source['n']}]" in clause["answer"]

    bad = out["bad_clause"]
    assert bad.is_error and "条文が分かりません" in bad.content[0].text and "柱3-3" in bad.content[0].text

    ask = out["ask"].structured_content
    assert ask["covered"] and ask["stage"] and ask["stage"].startswith("段階")
    assert ask["agencies"] and "**出典**" in ask["answer"]
    for source in ask["sources"]:
        assert compact(source["quote"]) in corpus_text

    follow_up = out["follow_up"].structured_content
    assert follow_up["answer"] != ask["answer"] and follow_up["sources"]

    off_topic = out["off_topic"].structured_content
    assert not off_topic["covered"] and not off_topic["sources"]

    assert out["empty"].is_error and "質問" in out["empty"].content[0].text

    agencies = out["agencies"].structured_content["result"]
    assert {a.id for a in catalog.agencies()} == {a["id"] for a in agencies}
    assert all(a["what_to_ask"] and a["helps_with"] for a in agencies)
    assert "keywords" not in agencies[0]  # the router's own words are not part of the catalog shown


def test_stdio_server_lists_and_answers_every_tool_with_verbatim_sources(
    built_index: BuiltIndex, tmp_path: Path, corpus_text: str
) -> None:
    params = StdioServerParameters(command=DXNAVI, args=["mcp"], env=server_env(built_index, tmp_path))

    async def session() -> dict[str, Any]:
        async with Client(params, read_timeout_seconds=120) as client:
            return await call_all(client)

    check_answers(asyncio.run(session()), corpus_text)


@contextmanager
def http_server(env: dict[str, str], port: int) -> Iterator[str]:
    from ground.processes import stop_processes

    proc = subprocess.Popen(
        [DXNAVI, "mcp", "--http", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 120
        while True:  # any answer from /mcp (401 without a key) means it is listening
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "dxnavi mcp --http did not start"
                time.sleep(0.2)
        yield url
    finally:
        stop_processes([proc])


def test_http_server_needs_the_api_key_and_answers_every_tool_with_it(
    built_index: BuiltIndex, tmp_path: Path, corpus_text: str
) -> None:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    env = server_env(built_index, tmp_path, DXNAVI_API_KEYS='["key-a","key-b"]')
    with http_server(env, free_port()) as url:
        refused = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, timeout=10)
        assert refused.status_code == 401 and "APIキー" in refused.json()["error"]
        wrong = httpx.post(url, json={}, headers={"Authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 401

        async def session() -> dict[str, Any]:
            headers = {"Authorization": "Bearer key-b"}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=120) as http,
                Client(streamable_http_client(url, http_client=http)) as client,
            ):
                return await call_all(client)

        check_answers(asyncio.run(session()), corpus_text)


def test_without_an_index_the_tools_are_listed_and_a_call_says_how_to_build_it(tmp_path: Path) -> None:
    env = {**os.environ, "DXNAVI_DATA_DIR": str(tmp_path / "empty"), "OMP_WAIT_POLICY": "PASSIVE"}
    params = StdioServerParameters(command=DXNAVI, args=["mcp"], env=env)

    async def session() -> tuple[set[str], Any]:
        async with Client(params, read_timeout_seconds=60) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            return tools, await client.call_tool("search_guides", {"query": "DX認定とは？"})

    tools, result = asyncio.run(session())
    assert tools == TOOLS
    assert result.is_error
    message = result.content[0].text
    assert "dxnavi ingest" in message and str(tmp_path) not in message
