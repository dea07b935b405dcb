"""The API served by uvicorn on 127.0.0.1, driven with httpx and the `openai` client: endpoints, SSE
streaming, the OpenAI-compatible endpoint, every limit and error, and concurrent chats."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.advisor import Advisor, StreamEvent
from bot.api import create_app
from bot.schemas import ChatResponse, Message
from tests.conftest import BuiltIndex
from tests.servers import api_settings, remember_advisor, serve, shared_advisor, sse_events

pytestmark = pytest.mark.slow

FAX = "FAXで受発注しているのですが、何から始めればいい？"


def ask_body(question: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": question}], **extra}


@pytest.fixture(scope="module")
def api(built_index: BuiltIndex, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app (advisor loaded in its lifespan from the built index) on a free loopback port."""
    app = create_app(api_settings(built_index, tmp_path_factory.mktemp("api")))
    with serve(app) as url:
        remember_advisor(built_index, app.state.holder.advisor)
        yield url


@pytest.fixture(scope="module")
def http(api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api, timeout=120) as client:
        yield client


# ---- health and catalogs ---------------------------------------------------------------------
def test_healthz_and_readyz_report_the_loaded_index(http: httpx.Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz").json()
    assert ready["status"] == "ok"
    assert ready["model_id"] == "intfloat/multilingual-e5-small"
    assert ready["documents"] >= 1 and ready["chunks"] > 10


def test_documents_agencies_and_stages_are_listed(http: httpx.Client) -> None:
    docs = http.get("/v1/documents").json()["documents"]
    assert any(d["doc_id"] == "meti-dx-policy-overview" and d["chunks"] > 0 for d in docs)
    agencies = http.get("/v1/agencies").json()
    assert any(a["id"] == "regional_bank" and a["quotes"] for a in agencies)
    stages = http.get("/v1/stages").json()
    assert [s["level"] for s in stages] == [1, 2, 3, 4]
    assert all(s["next_step_quotes"] for s in stages)


# ---- chat ------------------------------------------------------------------------------------
def test_chat_answers_with_citations_stage_and_agencies(http: httpx.Client) -> None:
    response = http.post("/v1/chat", json=ask_body(FAX))
    assert response.status_code == 200
    answer = ChatResponse.model_validate(response.json())
    assert not answer.refused
    assert answer.stage is not None and answer.stage.level == 1
    assert answer.agencies and answer.citations
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    assert cited <= {c.n for c in answer.citations}
    assert all(c.quote and c.title for c in answer.citations)


def test_chat_streams_text_deltas_then_the_final_response(http: httpx.Client) -> None:
    with http.stream("POST", "/v1/chat", json=ask_body(FAX, stream=True)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "final" and kinds.count("final") == 1
    assert kinds.count("delta") >= 2
    text = "".join(json.loads(data)["text"] for kind, data in events if kind == "delta")
    final = ChatResponse.model_validate_json(events[-1][1])
    assert text == final.answer
    assert final.stage is not None and final.agencies and final.citations


def test_follow_up_question_uses_the_conversation(http: httpx.Client) -> None:
    first = http.post(
        "/v1/chat", json=ask_body("紙の伝票で在庫を管理しています。何から始めればいい？")
    ).json()
    messages = [
        {"role": "user", "content": "紙の伝票で在庫を管理しています。何から始めればいい？"},
        {"role": "assistant", "content": first["answer"][:1000]},
        {"role": "user", "content": "それはどこに相談すればいい？"},
    ]
    follow = http.post("/v1/chat", json={"messages": messages}).json()
    assert follow["agencies"] and not follow["refused"]


# ---- search ----------------------------------------------------------------------------------
def test_search_finds_pillar_3_3_by_its_clause_number(http: httpx.Client) -> None:
    result = http.post("/v1/search", json={"query": "柱3-3", "k": 5}).json()
    assert "ITシステム・サイバーセキュリティ" in result["expansions"]
    assert result["results"] and result["results"][0]["rank"] == 1
    assert any("ITシステム・サイバーセキュリティ" in r["text"] for r in result["results"][:3])
    first = result["results"][0]
    assert first["title"] and first["page"] is not None and first["url"].startswith("https://")


def test_search_filters_by_document_and_rejects_unknown_ids(http: httpx.Client) -> None:
    ok = http.post("/v1/search", json={"query": "DX認定", "k": 3, "doc_ids": ["meti-dx-policy-overview"]})
    assert ok.status_code == 200
    assert {r["doc_id"] for r in ok.json()["results"]} == {"meti-dx-policy-overview"}
    bad = http.post("/v1/search", json={"query": "DX認定", "doc_ids": ["no-such-doc"]})
    assert bad.status_code == 422
    assert "no-such-doc" in bad.json()["detail"] and "使えるID" in bad.json()["detail"]


# ---- feedback --------------------------------------------------------------------------------
def test_feedback_is_stored_updated_and_exported_as_csv(http: httpx.Client) -> None:
    answer = http.post("/v1/chat", json=ask_body("DX認定のメリットは？")).json()
    mid = answer["message_id"]
    created = http.post("/v1/feedback", json={"message_id": mid, "rating": "up"})
    assert created.status_code == 201 and created.json()["rating"] == "up"
    updated = http.post(
        "/v1/feedback", json={"message_id": mid, "rating": "down", "comment": "連絡先も知りたい"}
    )
    assert updated.json()["rating"] == "down"
    export = http.get("/v1/feedback/export")
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    row = next(r for r in rows if r["message_id"] == mid)
    assert row["rating"] == "down" and row["comment"] == "連絡先も知りたい"
    assert row["question"] == "DX認定のメリットは？" and row["answer"]


def test_feedback_with_a_bad_rating_is_422_in_japanese(http: httpx.Client) -> None:
    response = http.post("/v1/feedback", json={"message_id": "x", "rating": "meh"})
    assert response.status_code == 422
    assert "rating" in response.json()["detail"] and "使える値" in response.json()["detail"]


# ---- OpenAI compatibility --------------------------------------------------------------------
def test_openai_client_lists_the_model_and_gets_an_answer_with_numbered_sources(api: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{api}/v1", api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["dxnavi"]
    completion = client.chat.completions.create(model="dxnavi", messages=[{"role": "user", "content": FAX}])
    content = completion.choices[0].message.content or ""
    assert completion.choices[0].finish_reason == "stop"
    body, _, sources = content.partition("**出典**")
    assert "### 参考資料" not in content
    markers = set(re.findall(r"\[(\d+)\]", body))
    listed = re.findall(r"^- \[(\d+)\] (.+?)：「(.+?)」", sources, flags=re.MULTILINE)
    assert markers and markers <= {n for n, _, _ in listed}
    assert all("p." in where for _, where, _ in listed)


def test_openai_client_streams_the_answer_then_the_sources(api: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{api}/v1", api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="dxnavi",
        messages=[{"role": "system", "content": "あなたは親切です"}, {"role": "user", "content": FAX}],
        stream=True,
    )
    pieces, finish = [], None
    for chunk in stream:
        pieces.append(chunk.choices[0].delta.content or "")
        finish = chunk.choices[0].finish_reason or finish
    content = "".join(pieces)
    assert finish == "stop"
    assert len([p for p in pieces if p]) >= 3
    assert "**出典**" in content and "### 参考資料" not in content
    assert content.index("最初の一歩") < content.index("**出典**")


def test_openai_unknown_model_is_404(http: httpx.Client) -> None:
    response = http.post(
        "/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}
    )
    assert response.status_code == 404
    error = response.json()["error"]  # OpenAI's error shape on the compatible endpoints
    assert "dxnavi" in error["message"] and error["type"] == "invalid_request_error"


def test_openai_client_shows_the_japanese_message_of_an_error(api: str) -> None:
    from openai import OpenAI, UnprocessableEntityError

    client = OpenAI(base_url=f"{api}/v1", api_key="unused", max_retries=0)
    with pytest.raises(UnprocessableEntityError) as caught:
        client.chat.completions.create(model="dxnavi", messages=[{"role": "user", "content": "あ" * 2001}])
    assert "2000文字以内" in caught.value.message
    assert caught.value.body["type"] == "invalid_request_error"  # type: ignore[index]


def test_langchain_chat_openai_invokes_streams_and_shows_the_japanese_error(api: str) -> None:
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_openai import ChatOpenAI
    from openai import UnprocessableEntityError

    llm = ChatOpenAI(base_url=f"{api}/v1", api_key="unused", model="dxnavi", max_retries=0, temperature=0.2)
    answer = llm.invoke([HumanMessage(FAX)])
    assert isinstance(answer, AIMessage) and "**出典**" in str(answer.content)
    assert answer.usage_metadata and answer.usage_metadata["input_tokens"] > 5

    follow_up = [HumanMessage(FAX), answer, HumanMessage("そこには何を持っていけばいい？")]
    pieces = [str(chunk.content) for chunk in llm.stream(follow_up)]
    streamed = "".join(pieces)
    assert len([p for p in pieces if p]) >= 3
    assert streamed != answer.content and "**出典**" in streamed

    with pytest.raises(UnprocessableEntityError) as caught:
        llm.invoke("あ" * 2001)
    assert "2000文字以内" in caught.value.message


def test_a_25_turn_chat_from_a_front_end_keeps_going(api: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{api}/v1", api_key="unused", max_retries=0)
    questions = [
        "DX認定のメリットは？",
        "それってお金かかるの？",
        "どこに相談すればいい？",
        "何から始めればいい？",
    ]
    messages: list[dict[str, str]] = []
    for turn in range(25):
        messages.append({"role": "user", "content": questions[turn % len(questions)]})
        completion = client.chat.completions.create(model="dxnavi", messages=messages)  # type: ignore[arg-type]
        answer = completion.choices[0].message.content or ""
        assert answer, turn
        messages.append(
            {"role": "assistant", "content": answer}
        )  # echoed back, over 2,000 characters at times
    assert len(messages) == 50


def test_usage_is_counted_and_streamed_when_asked(api: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{api}/v1", api_key="unused", max_retries=0)
    completion = client.chat.completions.create(model="dxnavi", messages=[{"role": "user", "content": FAX}])
    assert completion.usage is not None and completion.usage.prompt_tokens > 5
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    chunks = list(
        client.chat.completions.create(
            model="dxnavi",
            messages=[{"role": "user", "content": FAX}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens == completion.usage.completion_tokens


# ---- limits and errors -----------------------------------------------------------------------
def test_message_over_2000_characters_is_422_with_japanese_detail(http: httpx.Client) -> None:
    response = http.post("/v1/chat", json=ask_body("あ" * 2001))
    assert response.status_code == 422
    assert "2000文字以内" in response.json()["detail"]


def test_more_than_20_messages_is_422(http: httpx.Client) -> None:
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": "こんにちは"} for i in range(21)]
    response = http.post("/v1/chat", json={"messages": messages})
    assert response.status_code == 422
    assert "20件以内" in response.json()["detail"]


def test_empty_question_and_malformed_body_are_422_in_japanese(http: httpx.Client) -> None:
    empty = http.post("/v1/chat", json=ask_body("   "))
    assert empty.status_code == 422 and "空" in empty.json()["detail"]
    malformed = http.post("/v1/chat", content=b"{not json", headers={"content-type": "application/json"})
    assert malformed.status_code == 422 and "JSON" in malformed.json()["detail"]
    missing = http.post("/v1/chat", json={})
    assert missing.status_code == 422 and "messages" in missing.json()["detail"]


def test_a_stream_request_over_the_limit_fails_before_streaming(http: httpx.Client) -> None:
    response = http.post("/v1/chat", json=ask_body("あ" * 2001, stream=True))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/json")


def test_body_over_1_mib_is_413_by_content_length(http: httpx.Client) -> None:
    body = json.dumps(ask_body("あ" * 200_000)).encode()
    assert len(body) > 1024 * 1024
    response = http.post("/v1/chat", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "大きすぎます" in response.json()["detail"]


def test_chunked_body_over_1_mib_is_413_while_reading_the_stream(http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"messages": [{"role": "user", "content": "'
        for _ in range(1100):
            yield b"x" * 1024
        yield b'"}]}'

    response = http.post("/v1/chat", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert "大きすぎます" in response.json()["detail"]


def test_unknown_path_is_404_in_japanese(http: httpx.Client) -> None:
    response = http.get("/v1/nothing-here")
    assert response.status_code == 404
    assert "見つかりません" in response.json()["detail"]


def test_a_bad_trusted_proxy_setting_is_a_clear_error() -> None:
    from ground.config import load_settings

    with pytest.raises(Exception, match="trusted_proxies"):
        load_settings(trusted_proxies=["not-an-ip"])


def test_api_key_is_required_when_configured(built_index: BuiltIndex, tmp_path: Path) -> None:
    app = create_app(api_settings(built_index, tmp_path, api_key="s3cret"), shared_advisor(built_index))
    with serve(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        missing = client.post("/v1/chat", json=ask_body(FAX))
        assert missing.status_code == 401 and "APIキー" in missing.json()["detail"]
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = client.get("/v1/stages", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "正しくありません" in wrong.json()["detail"]
        ok = client.get("/v1/stages", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert client.get("/healthz").status_code == 200

        from openai import AuthenticationError, OpenAI

        with pytest.raises(AuthenticationError):
            OpenAI(base_url=f"{url}/v1", api_key="nope", max_retries=0).models.list()
        assert OpenAI(base_url=f"{url}/v1", api_key="s3cret", max_retries=0).models.list().data


def test_missing_index_gives_503_with_how_to_build_it(tmp_path: Path) -> None:
    from ground.config import load_settings

    settings = load_settings(data_dir=tmp_path / "empty")
    with serve(create_app(settings)) as url, httpx.Client(base_url=url) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "dxnavi ingest" in ready.json()["detail"]
        assert str(tmp_path) not in ready.text  # no local paths to a client
        chat = client.post("/v1/chat", json=ask_body(FAX))
        assert chat.status_code == 503 and "dxnavi ingest" in chat.json()["detail"]
        assert client.post("/v1/search", json={"query": "DX"}).status_code == 503


def test_api_docs_are_closed_when_a_key_is_set_unless_opened(built_index: BuiltIndex, tmp_path: Path) -> None:
    closed = create_app(api_settings(built_index, tmp_path / "a", api_key="k"), shared_advisor(built_index))
    opened = create_app(
        api_settings(built_index, tmp_path / "b", api_key="k", api_docs=True), shared_advisor(built_index)
    )
    with serve(closed) as url, httpx.Client(base_url=url) as client:
        assert client.get("/docs").status_code == 404 and client.get("/openapi.json").status_code == 404
    with serve(opened) as url, httpx.Client(base_url=url) as client:
        assert client.get("/docs").status_code == 200 and client.get("/openapi.json").status_code == 200


def test_cors_allows_only_configured_origins(built_index: BuiltIndex, tmp_path: Path) -> None:
    app = create_app(
        api_settings(built_index, tmp_path, cors_origins=["http://intranet.example"]),
        shared_advisor(built_index),
    )
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    with serve(app) as url, httpx.Client(base_url=url) as client:
        allowed = client.options("/v1/chat", headers={"Origin": "http://intranet.example", **preflight})
        assert allowed.headers["access-control-allow-origin"] == "http://intranet.example"
        denied = client.options("/v1/chat", headers={"Origin": "http://evil.example", **preflight})
        assert "access-control-allow-origin" not in denied.headers


class Delegate:
    """Stands in for the shared advisor, changing one behaviour (the API calls only public methods)."""

    def __init__(self, real: Advisor) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class FailingAdvisor(Delegate):
    """Answering blows up with an internal error whose message must not reach the client."""

    def ask(self, messages: list[Message]) -> ChatResponse:
        raise RuntimeError("secret internal state /etc/passwd")

    def stream(self, messages: list[Message]) -> Iterator[StreamEvent]:
        yield StreamEvent("delta", text="途中まで")
        raise RuntimeError("secret internal state /etc/passwd")


def test_internal_errors_are_japanese_without_stack_traces(built_index: BuiltIndex, tmp_path: Path) -> None:
    advisor = FailingAdvisor(shared_advisor(built_index))
    app = create_app(api_settings(built_index, tmp_path), advisor)  # type: ignore[arg-type]
    with serve(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        plain = client.post("/v1/chat", json=ask_body(FAX))
        assert plain.status_code == 500
        assert "サーバー内部でエラー" in plain.json()["detail"]
        assert "secret" not in plain.text and "Traceback" not in plain.text
        with client.stream("POST", "/v1/chat", json=ask_body(FAX, stream=True)) as streamed:
            events = sse_events(streamed)
        assert events[0][0] == "delta"
        assert events[-1][0] == "error" and "サーバー内部でエラー" in events[-1][1]
        assert "secret" not in json.dumps(events)
        assert client.get("/v1/stages").status_code == 200  # the connection survived


class SlowStreamAdvisor(Delegate):
    """Streams 200 slow pieces and records how far it got and whether it was stopped."""

    def __init__(self, real: Advisor) -> None:
        super().__init__(real)
        self.produced = 0
        self.stopped = threading.Event()

    def stream(self, messages: list[Message]) -> Iterator[StreamEvent]:
        try:
            for i in range(200):
                time.sleep(0.05)
                self.produced += 1
                yield StreamEvent("delta", text=f"{i}\n")
        finally:
            self.stopped.set()


def test_client_disconnect_mid_stream_stops_the_work(built_index: BuiltIndex, tmp_path: Path) -> None:
    advisor = SlowStreamAdvisor(shared_advisor(built_index))
    app = create_app(api_settings(built_index, tmp_path), advisor)  # type: ignore[arg-type]
    with serve(app) as url:
        with (
            httpx.Client(base_url=url, timeout=30) as client,
            client.stream("POST", "/v1/chat", json=ask_body(FAX, stream=True)) as response,
        ):
            lines = response.iter_lines()
            assert next(line for line in lines if line.startswith("data:"))
        assert advisor.stopped.wait(10), "the advisor kept streaming after the client left"
        produced = advisor.produced
        time.sleep(0.5)
        assert advisor.produced == produced < 200


def test_twenty_four_simultaneous_chats_are_all_answered_correctly(http: httpx.Client, api: str) -> None:
    questions = [FAX, "DX認定のメリットは？", "どこに相談すればいいですか？", "DX推進指標とは何ですか？"]
    expected = {q: http.post("/v1/chat", json=ask_body(q)).json() for q in questions}
    barrier = threading.Barrier(24)

    def chat(i: int) -> tuple[str, dict[str, Any], bool]:
        question = questions[i % len(questions)]
        with httpx.Client(base_url=api, timeout=300) as client:
            barrier.wait()
            stream = i % 3 == 0
            if stream:
                with client.stream("POST", "/v1/chat", json=ask_body(question, stream=True)) as response:
                    events = sse_events(response)
                return question, json.loads(events[-1][1]), stream
            response = client.post("/v1/chat", json=ask_body(question))
            assert response.status_code == 200, response.text
            return question, response.json(), stream

    with ThreadPoolExecutor(24) as pool:
        results = list(pool.map(chat, range(24)))
    assert len({r["message_id"] for _, r, _ in results}) == 24
    for question, result, _ in results:
        assert result["answer"] == expected[question]["answer"]
        assert [c["chunk_id"] for c in result["citations"]] == [
            c["chunk_id"] for c in expected[question]["citations"]
        ]


def test_openapi_docs_are_served_with_japanese_examples(http: httpx.Client) -> None:
    assert http.get("/docs").status_code == 200
    spec = http.get("/openapi.json").json()
    assert spec["info"]["title"] == "DXナビ API"
    examples = spec["paths"]["/v1/chat"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert FAX in json.dumps(examples, ensure_ascii=False)
    assert "/v1/chat/completions" in spec["paths"] and "/v1/feedback/export" in spec["paths"]


# ---- text that is broken, invisible or full of control characters (issue 12) -------------------
BAD_TEXT = [
    "DX\ud800",  # a lone surrogate: not encodable text
    "\udfffDX認定",
    "\u200b\u200c\u200d\ufeff",  # only zero-width characters: an empty question
    "\x00\x01\x02",  # only control characters
    " \t\n ",
]


@pytest.mark.parametrize("text", BAD_TEXT)
def test_broken_or_invisible_text_is_a_japanese_422_on_every_text_endpoint(
    http: httpx.Client, text: str
) -> None:
    def post(path: str, payload: dict[str, Any]) -> httpx.Response:
        # json.dumps keeps a lone surrogate as a \\ud800 escape, as a real client sends it.
        body = json.dumps(payload).encode()
        return http.post(path, content=body, headers={"Content-Type": "application/json"})

    responses = {
        "chat": post("/v1/chat", ask_body(text)),
        "search": post("/v1/search", {"query": text}),
        "completions": post(
            "/v1/chat/completions", {"model": "dxnavi", "messages": [{"role": "user", "content": text}]}
        ),
        "feedback": post("/v1/feedback", {"message_id": "x", "rating": "up", "comment": text}),
    }
    for name, response in responses.items():
        if name == "feedback" and not re.search("[\ud800-\udfff]", text):
            assert response.status_code < 500, (name, response.text)  # an empty comment is allowed
            continue
        assert response.status_code == 422, (name, response.status_code, response.text)
        assert not response.text.isascii(), (name, response.text)  # a Japanese message


def test_control_characters_inside_a_question_are_dropped_not_fatal(http: httpx.Client) -> None:
    response = http.post("/v1/chat", json=ask_body("DX認定の\x00メリットは\x07？"))
    assert response.status_code == 200
    assert "\x00" not in response.json()["answer"]


def test_fit_history_keeps_recent_turns_and_limits_only_the_newest_user_message() -> None:
    from bot.api.completions import fit_history
    from bot.schemas import Message

    long_old = Message(role="user", content="あ" * 3000)
    turns = [long_old, Message(role="assistant", content="い" * 5000)]
    for i in range(30):
        turns += [Message(role="user", content=f"質問{i}"), Message(role="assistant", content=f"回答{i}")]
    turns.append(Message(role="user", content="最新の質問"))

    fitted = fit_history(turns, max_messages=20, max_chars=2000)
    assert len(fitted) <= 20 and fitted[0].role == "user" and fitted[-1].content == "最新の質問"
    assert long_old not in fitted
    assert fitted[-2].content == "回答29"


# ---- Open WebUI (issue 11): every request it sent, replayed against the real app ---------------------
OPEN_WEBUI = Path(__file__).parent / "data" / "open-webui-0.12.4-requests.jsonl"


def _stream_text(response: httpx.Response) -> str:
    parts = []
    for line in response.text.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            payload = json.loads(line[len("data: ") :])
            assert "error" not in payload, payload
            parts += [c["delta"].get("content") or "" for c in payload["choices"]]
    return "".join(parts)


def test_every_request_open_webui_sent_gets_the_shape_it_expects(http: httpx.Client) -> None:
    requests = [json.loads(line) for line in OPEN_WEBUI.read_text(encoding="utf-8").splitlines() if line]
    assert len(requests) >= 30
    kinds: dict[str, int] = {}
    for captured in requests:
        body = captured["body"]
        prompt = body["messages"][-1]["content"]
        response = http.post(captured["path"], json=body, headers={"User-Agent": captured["user_agent"]})
        if not prompt.startswith("### Task:") and len(prompt) > 2000:
            # The owner's own over-long message: an OpenAI-shaped 422 with the Japanese reason.
            assert response.status_code == 422 and "2000文字以内" in response.json()["error"]["message"]
            kinds["too_long"] = kinds.get("too_long", 0) + 1
            continue
        assert response.status_code == 200, (prompt[:40], response.text[:300])
        text = (
            _stream_text(response)
            if body.get("stream")
            else response.json()["choices"][0]["message"]["content"]
        )
        if prompt.startswith("### Task:"):
            answer = json.loads(text)
            key = next(
                k for k in ("follow_ups", "tags", "title") if f'"{k}"' in prompt.split("### Output:")[-1]
            )
            kinds[key] = kinds.get(key, 0) + 1
            if key == "title":
                assert isinstance(answer["title"], str) and 0 < len(answer["title"]) <= 24
                assert "###" not in answer["title"] and "[1]" not in answer["title"]
            else:
                assert answer[key] and all(isinstance(t, str) and t for t in answer[key])
        else:
            kinds["chat"] = kinds.get("chat", 0) + 1
            assert "**出典**" in text and re.search(r"\[\d+\]", text)
    assert kinds.keys() >= {"follow_ups", "tags", "title", "chat"}, kinds


def test_follow_up_suggestions_are_questions_dxnavi_answers(http: httpx.Client) -> None:
    prompt = (
        '### Task:\nSuggest follow-ups.\n### Output:\nJSON format: { "follow_ups": ["..."] }\n'
        "### Chat History:\n<chat_history>\nUSER: DX認定のメリットは？\nASSISTANT: …\n</chat_history>"
    )
    body = {"model": "dxnavi", "messages": [{"role": "user", "content": prompt}]}
    suggestions = json.loads(
        http.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    )
    for question in suggestions["follow_ups"]:
        answer = http.post("/v1/chat", json=ask_body(question)).json()
        assert not answer["refused"] and answer["topic"], question


def test_a_chat_turn_in_open_webui_costs_one_retrieval(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Open WebUI's turn: the chat request, then its title, tags and follow-up tasks; the next turn sends
    the whole chat again. Each turn runs one search of the index (earlier turns' are reused)."""
    from bot.retrieve import SearchIndex

    searches: list[str] = []
    original = SearchIndex._search

    def counted(self: SearchIndex, query: str, *args: Any) -> Any:
        searches.append(query)
        return original(self, query, *args)

    monkeypatch.setattr(SearchIndex, "_search", counted)
    templates = {}
    for line in OPEN_WEBUI.read_text(encoding="utf-8").splitlines():
        prompt = json.loads(line)["body"]["messages"][-1]["content"]
        for key in ("follow_ups", "tags", "title"):
            if prompt.startswith("### Task:") and f'"{key}"' in prompt.split("### Output:")[-1]:
                templates.setdefault(key, prompt.split("<chat_history>")[0])
    assert templates.keys() == {"follow_ups", "tags", "title"}

    chat: list[dict[str, str]] = []
    for question in (
        "見積もりを手書きで作っている塗装店です。まず何をすべき？",
        "そこには何を持っていけばいい？",
    ):
        before = len(searches)
        chat.append({"role": "user", "content": question})
        response = http.post(
            "/v1/chat/completions", json={"model": "dxnavi", "messages": chat, "stream": True}
        )
        answer = _stream_text(response)
        chat.append({"role": "assistant", "content": answer})
        history = "\n".join(f"{m['role'].upper()}: {m['content']}" for m in chat)
        for template in templates.values():
            task = f"{template}<chat_history>\n{history}\n</chat_history>"
            body = {"model": "dxnavi", "messages": [{"role": "user", "content": task}], "stream": False}
            assert http.post("/v1/chat/completions", json=body).status_code == 200
        assert len(searches) - before == 1, searches[before:]
