"""相談メモ (issue 13): made from a real conversation by the real advisor, as Markdown and as a PDF whose
text is read back with pypdf; and `POST /v1/memo` on the real app."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pypdf import PdfReader

from bot.advisor import Advisor
from bot.api import create_app
from bot.grounding import check_answer
from bot.memo import Company, Memo, make_memo, memo_markdown
from bot.memo_pdf import japanese_font, memo_pdf
from bot.schemas import Message
from ground.errors import QueryError
from ingest.normalize import compact
from tests.conftest import BuiltIndex
from tests.servers import api_settings, serve, shared_advisor

FIRST = "従業員12人の金属加工の町工場です。受発注はFAXと電話で、在庫は紙の台帳です。何から始めればいい？"
SECOND = "費用はどれくらいかかるの？"


@pytest.fixture(scope="module")
def advisor(built_index: BuiltIndex) -> Advisor:
    return shared_advisor(built_index)


@pytest.fixture(scope="module")
def conversation(advisor: Advisor) -> list[Message]:
    """Two turns as the chat page sends them: each answer follows its question."""
    messages = [Message(role="user", content=FIRST)]
    messages.append(Message(role="assistant", content=advisor.ask(messages).answer))
    messages.append(Message(role="user", content=SECOND))
    messages.append(Message(role="assistant", content=advisor.ask(messages).answer))
    return messages


@pytest.fixture(scope="module")
def memo(advisor: Advisor, conversation: list[Message]) -> Memo:
    return make_memo(
        advisor, conversation, None, Company(name="山田製作所", industry="金属加工", employees=12)
    )


@pytest.fixture(scope="module")
def chunks(built_index: BuiltIndex) -> str:
    return "\n".join(compact(c.text) for c in built_index.index.chunks)


def cited_text(memo: Memo) -> str:
    return "\n".join([memo.stage_reason or "", memo.agency_reason, *memo.tell, *memo.steps])


def test_memo_holds_the_owners_words_stage_agency_and_what_to_bring(memo: Memo) -> None:
    assert memo.owner_words == [FIRST, SECOND]
    assert memo.stage is not None and memo.stage.startswith("段階1")
    assert memo.agency_id == "regional_bank" and "地域金融機関" in memo.agency_name
    assert len(memo.tell) >= 3 and len(memo.steps) >= 2
    assert any("費用" in gap for gap in memo.gaps)  # what the guides leave out, to ask the agency
    assert memo.company.name == "山田製作所"


def test_every_marker_is_a_source_and_every_quote_is_verbatim_in_the_index(memo: Memo, chunks: str) -> None:
    numbers = [c.n for c in memo.sources]
    assert numbers == list(range(1, len(numbers) + 1))
    used = {int(n) for n in re.findall(r"\[(\d+)\]", cited_text(memo))}
    assert used == set(numbers)  # no marker without a source, no source without a marker
    for source in memo.sources:
        assert compact(source.quote) in chunks, source.quote


def test_every_cited_sentence_of_the_memo_is_supported_by_its_quotes(memo: Memo) -> None:
    checks = check_answer(cited_text(memo), {c.n: c.quote for c in memo.sources})
    assert checks and all(check.grounded for check in checks), [c for c in checks if not c.grounded]


def test_markdown_memo_has_each_section_and_the_sources(memo: Memo) -> None:
    text = memo_markdown(memo)
    for heading in ("# DX相談メモ（地域金融機関", "## ご相談の内容", "## 現在地（推定）: 段階1", "## 相談先:",
                    "## 相談するときに伝えること・持っていくもの", "## 資料が勧める最初の一歩", "## 出典"):  # fmt: skip
        assert heading in text, heading
    assert f"> {FIRST}" in text and "会社名: 山田製作所" in text
    assert all(f"[{c.n}] " in text for c in memo.sources)


def test_pdf_memo_embeds_a_japanese_font_and_reads_back_as_the_memo(memo: Memo, chunks: str) -> None:
    data = memo_pdf(memo)
    reader = PdfReader(io.BytesIO(data))
    text = compact("".join(page.extract_text() for page in reader.pages))
    assert len(reader.pages) <= 3
    assert compact(memo.stage or "") in text and "地域金融機関" in text and "山田製作所" in text
    assert compact(FIRST) in text
    quote = next(c.quote for c in memo.sources if "FAX" in c.quote)
    assert compact(quote) in text and compact(quote) in chunks
    if japanese_font()[1]:  # a TrueType font was found: it is in the file
        assert b"/FontFile2" in data


def test_the_agency_the_owner_chooses_is_the_memos_addressee(
    advisor: Advisor, conversation: list[Message]
) -> None:
    memo = make_memo(advisor, conversation, "chamber")
    assert memo.agency_id == "chamber" and "商工会" in memo.agency_name
    assert memo.tell  # what to tell the 商工会議所, from its own advice card


def test_unknown_agency_and_a_conversation_without_an_answer_are_refused_in_japanese(
    advisor: Advisor, conversation: list[Message]
) -> None:
    with pytest.raises(QueryError, match="相談先のIDが見つかりません"):
        make_memo(advisor, conversation, "no-such-agency")
    with pytest.raises(QueryError, match="資料にもとづく回答がまだありません"):
        make_memo(advisor, [Message(content="おすすめのラーメン屋は？")])


# ---- POST /v1/memo -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def api(built_index: BuiltIndex, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app = create_app(api_settings(built_index, tmp_path_factory.mktemp("memo")), shared_advisor(built_index))
    with serve(app) as url:
        yield url


def test_api_returns_the_memo_as_a_pdf_attachment(
    api: str, conversation: list[Message], tmp_path: Path
) -> None:
    body = {"messages": [m.model_dump() for m in conversation], "company_name": "山田製作所", "employees": 12}
    response = httpx.post(f"{api}/v1/memo", json=body, timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert "attachment;" in response.headers["content-disposition"]
    assert response.headers["x-dxnavi-agency"] == "regional_bank"
    text = compact("".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages))
    assert "段階1" in text and "山田製作所" in text and "従業員数:12人" in text


def test_api_returns_markdown_and_refuses_bad_input_in_japanese(
    api: str, conversation: list[Message]
) -> None:
    messages = [m.model_dump() for m in conversation]
    markdown = httpx.post(
        f"{api}/v1/memo",
        json={"messages": messages, "format": "markdown", "agency_id": "chamber"},
        timeout=120,
    )
    assert markdown.status_code == 200 and markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith("# DX相談メモ（商工会")
    unknown = httpx.post(f"{api}/v1/memo", json={"messages": messages, "agency_id": "x"}, timeout=120)
    assert unknown.status_code == 422 and "相談先のIDが見つかりません" in unknown.json()["detail"]
    empty = httpx.post(f"{api}/v1/memo", json={"messages": []}, timeout=120)
    assert empty.status_code == 422 and "メッセージがありません" in empty.json()["detail"]
    too_many = httpx.post(f"{api}/v1/memo", json={"messages": messages, "employees": 0}, timeout=120)
    assert too_many.status_code == 422 and "employees" in too_many.json()["detail"]
