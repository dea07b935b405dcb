"""The Streamlit UI driven by AppTest, talking over HTTP to the real API on 127.0.0.1: example questions,
streamed answers with cards, feedback, the self-check, reset, the API-down message and 条文検索."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button

from bot.api import create_app
from ground.config import PROJECT_ROOT, load_settings
from tests.conftest import BuiltIndex
from tests.servers import api_settings, free_port, serve, shared_advisor

pytestmark = pytest.mark.slow

APP = PROJECT_ROOT / "ui" / "app.py"
FAX = "FAXで受発注しているのですが、何から始めればいい？"
TIMEOUT = 120


@pytest.fixture(scope="module")
def api(built_index: BuiltIndex, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = api_settings(built_index, tmp_path_factory.mktemp("ui-api"))
    with serve(create_app(settings, shared_advisor(built_index))) as url:
        yield url


@pytest.fixture
def app(api: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("DXNAVI_API_URL", api)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    """All markdown, caption and alert text on the page, for searching."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [w.value for w in at.warning] + [s.value for s in at.success]
    return "\n".join(str(p) for p in parts)


def button(at: AppTest, label: str) -> Button:
    return next(b for b in at.button if b.label == label)


def test_first_screen_offers_examples_self_check_and_reset(app: AppTest) -> None:
    labels = [b.label for b in app.sidebar.button]
    assert {"何から始めればいい？", "DX認定のメリットは？", "どこに相談すれば？"} <= set(labels)
    assert "🔄 会話をリセット" in labels
    assert any("DX段階セルフチェック" in e.label for e in app.sidebar.expander)
    assert app.chat_input[0].placeholder.startswith("DXについて相談してください")


def test_clicking_an_example_question_shows_the_answer_and_sources(app: AppTest) -> None:
    app.sidebar.button(key="example_1").click().run()
    assert not app.exception
    assert [m.name for m in app.chat_message] == ["user", "assistant"]
    assert "DX認定のメリットは？" in texts(app)
    assert any(e.label.startswith("📚 出典") for e in app.expander)
    # The bundled overview links to the page where METI publishes it (no PDF to open at a page).
    assert "[1]" in texts(app) and "資料の掲載ページを開く" in texts(app)


def test_fax_question_shows_stage_agencies_and_numbered_citation_cards(app: AppTest) -> None:
    app.chat_input[0].set_value(FAX).run()
    assert not app.exception
    page = texts(app)
    assert "最初の一歩" in page
    assert "🧭 DX段階" in page and ":blue-background[**段階1**]" in page
    assert (
        page.count("地域金融機関(地方銀行") + page.count("地域金融機関（地方銀行") == 1
    )  # once, in the text
    assert "相談で話し合うこと" in page
    assert any(e.label.startswith("📝 相談メモを作る") for e in app.expander)
    sources = next(e for e in app.expander if e.label.startswith("📚 出典"))
    card_titles = [m.value for m in sources.markdown if m.value.startswith("**[")]
    assert card_titles[0].startswith("**[1] ") and len(card_titles) >= 3
    assert any(":orange-background[**" in m.value for m in sources.markdown)  # the cited sentence
    assert app.progress[0].value == 25


def test_thumbs_up_is_sent_to_the_api_with_an_optional_comment(app: AppTest, api: str) -> None:
    app.chat_input[0].set_value("DX認定のメリットは？").run()
    message_id = app.session_state["turns"][1]["response"].message_id
    button(app, "👍 役に立った").click().run()
    assert "フィードバックを受け付けました" in texts(app)
    app.text_input(key="comment_1").input("とても分かりやすい")
    button(app, "コメントを送る").click().run()
    assert "コメントも送信しました" in texts(app)
    export = httpx.get(f"{api}/v1/feedback/export").content.decode("utf-8-sig")
    row = next(r for r in csv.DictReader(io.StringIO(export)) if r["message_id"] == message_id)
    assert row["rating"] == "up" and row["comment"] == "とても分かりやすい"


def test_self_check_gives_a_stage_with_first_steps_citing_the_guide(app: AppTest) -> None:
    app.radio(key="sc_2").set_value("はい")
    app.radio(key="sc_3").set_value("いいえ")
    button(app, "判定する").click().run()
    page = texts(app)
    assert "セルフチェックの結果: 段階2「デジタイゼーション」" in page
    assert "最初の一歩（資料より）" in page
    assert "出典: 経済産業省" in page and "p." in page
    button(app, "この結果をもとにチャットで相談する").click().run()
    assert [m.name for m in app.chat_message] == ["user", "assistant"]


def test_reset_clears_the_conversation_and_the_self_check(app: AppTest) -> None:
    app.chat_input[0].set_value(FAX).run()
    button(app, "判定する").click().run()
    assert app.chat_message and "セルフチェックの結果" in texts(app)
    app.sidebar.button(key="reset").click().run()
    assert not app.chat_message
    assert "セルフチェックの結果" not in texts(app)
    assert app.session_state["turns"] == []


def test_api_down_shows_how_to_start_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DXNAVI_API_URL", f"http://127.0.0.1:{free_port()}")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert "API に接続できません" in at.error[0].value
    assert "make run" in at.error[0].value and "dxnavi serve" in at.error[0].value
    assert not at.chat_input


def test_api_without_index_says_to_run_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(create_app(load_settings(data_dir=tmp_path / "empty"))) as url:
        monkeypatch.setenv("DXNAVI_API_URL", url)
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert "dxnavi ingest" in at.warning[0].value


def test_search_page_finds_pillar_3_3_with_copyable_citation(app: AppTest) -> None:
    app.switch_page("pages/search.py").run()
    assert app.title[0].value == "条文検索"
    app.text_input[0].input("柱3-3")
    button(app, "検索").click().run()
    assert not app.exception
    page = texts(app)
    assert "「柱3-3」の検索結果" in page
    assert ":orange-background[**ITシステム・サイバーセキュリティ**]" in page
    citations = [c.value for c in app.code]
    assert citations and all("（出典：" in c for c in citations)
    assert any("ITシステム・サイバーセキュリティ" in c and "p." in c for c in citations)
    # What is copied is the clause, not only its label; results are ranked, without raw scores.
    assert any("サイバーセキュリティリスク" in c for c in citations), citations
    assert "スコア" not in page and "関連が高い順の1件目" in page


def test_search_page_filters_by_document(app: AppTest) -> None:
    app.switch_page("pages/search.py").run()
    app.text_input[0].input("DX認定")
    app.multiselect[0].select("meti-dx-policy-overview")
    button(app, "検索").click().run()
    assert "検索結果" in texts(app) and app.code


def test_no_markdown_is_rendered_with_html_enabled(app: AppTest) -> None:
    app.chat_input[0].set_value("<script>alert(1)</script> FAXで受発注しています。何から始めればいい？").run()
    assert all(not m.proto.allow_html for m in app.markdown)


def test_a_source_card_shows_the_cited_bullet_with_its_neighbours_as_list_items() -> None:
    from ui.render import quote_in_context

    passage = "DXとは何か\n取組例\n✓ 受発注をFAXや電話のみで実施\n✓ 勤怠管理として出勤簿に判子を押印\n✓ 顧客管理は紙の台帳"
    shown = quote_in_context(passage, "受発注をFAXや電話のみで実施").split("\n\n")
    assert shown == [
        ":gray[…]",
        ":gray[取組例]",
        "- :orange-background[**受発注をFAXや電話のみで実施**]",
        "- :gray[勤怠管理として出勤簿に判子を押印]",
        ":gray[…]",
    ]
    # The index keeps NFKC text; a quote may still carry 全角 brackets.
    assert "**段階1(全くの未着手)**" in quote_in_context(
        "➢ 段階1(全くの未着手):30.8%", "段階1（全くの未着手）"
    )


def test_only_complete_http_urls_become_links() -> None:
    from ui.render import document_link, safe_link

    assert (
        safe_link("https://www.meti.go.jp/policy/dx.pdf")
        == "[資料を開く ↗](https://www.meti.go.jp/policy/dx.pdf)"
    )
    for bad in ("https://www.meti.go.jp/policy/it_po…", "javascript:alert(1)", "https://x.jp/a...", None, ""):
        assert safe_link(bad) == "", bad
    assert (
        document_link("https://x.go.jp/guide.pdf", 12)
        == "[資料を開く（p.12）↗](https://x.go.jp/guide.pdf#page=12)"
    )
    assert (
        document_link("https://x.go.jp/dx.html", 3) == "[資料の掲載ページを開く ↗](https://x.go.jp/dx.html)"
    )
