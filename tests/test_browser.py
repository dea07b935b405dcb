"""End to end in a real browser: the API and `streamlit run` on 127.0.0.1, Debian's chromium driven by
Playwright. Screenshots go to the test's data folder and to /tmp/dxnavi_chat.png, /tmp/dxnavi_search.png."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.api import create_app
from evals.bench_api import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import BuiltIndex
from tests.servers import api_settings, serve, shared_advisor, streamlit_app

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} がありません: `make system-deps`（apt-get install chromium）で入れてください",
    ),
]

FAX = "FAXで受発注しているのですが、何から始めればいい？"
WAIT_MS = 120_000


@pytest.fixture(scope="module")
def servers(
    built_index: BuiltIndex, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, Path]]:
    """(API URL, UI URL, data folder) with both servers running."""
    root = tmp_path_factory.mktemp("browser")
    settings = api_settings(built_index, root)
    with (
        serve(create_app(settings, shared_advisor(built_index))) as api,
        streamlit_app(api, settings.data_dir) as ui,
    ):
        yield api, ui, settings.data_dir


@pytest.fixture(scope="module")
def page(servers: tuple[str, str, Path]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ja-JP")
        yield context.new_page()
        browser.close()


def full_screenshot(page: Any, path: Path) -> None:
    """Streamlit scrolls inside its main block: grow the viewport to the content, then shoot."""
    height = page.evaluate(
        """() => Math.max(...[...document.querySelectorAll(
            '[data-testid="stMain"], [data-testid="stAppViewContainer"], [data-testid="stMainBlockContainer"]'
        )].map(e => e.scrollHeight))"""
    )
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 120, 8000)})
    time.sleep(1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


def ask(page: Any, ui: str, question: str) -> Any:
    """Ask on the chat page; returns the answer's chat message once it is complete."""
    page.goto(ui)
    box = page.get_by_test_id("stChatInputTextArea")
    box.wait_for(timeout=WAIT_MS)
    box.fill(question)
    box.press("Enter")
    page.get_by_role("button", name="👍 役に立った").wait_for(timeout=WAIT_MS)
    return page.get_by_test_id("stChatMessage").nth(1)


def in_viewport(page: Any, element: Any, within_s: float = 10.0) -> bool:
    """Is the element's top on screen, below Streamlit's fixed header (the page may still be settling after
    the answer arrived)?"""
    header = page.get_by_test_id("stHeader").bounding_box()
    top = header["y"] + header["height"] if header else 0
    deadline = time.monotonic() + within_s
    while True:
        box = element.bounding_box()
        if box is not None and top - 2 <= box["y"] < page.viewport_size["height"]:  # -2: sub-pixel
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def test_owner_asks_sees_the_answer_first_opens_a_source_and_takes_a_memo(
    page: Any, servers: tuple[str, str, Path], built_index: BuiltIndex
) -> None:
    from pypdf import PdfReader

    from ingest.normalize import compact

    api, ui, data_dir = servers
    answer = ask(page, ui, FAX)
    text = answer.inner_text()
    assert "最初の一歩" in text and "地域金融機関" in text
    # The answer is read first: its beginning is on screen without scrolling.
    assert in_viewport(page, answer.get_by_text("現在地", exact=False).first)
    assert text.count("地域金融機関（") + text.count("地域金融機関(") <= 1  # the agency once, in the text
    assert page.get_by_text("段階1", exact=False).first.is_visible()

    sources = page.get_by_test_id("stExpander").filter(has_text="📚 出典")
    assert sources.count() == 1
    sources.get_by_text("出典", exact=False).first.click()  # folded under the answer until opened
    card = sources.get_by_text("[1] 経済産業省", exact=False).first
    card.wait_for(timeout=WAIT_MS)
    assert card.is_visible()

    page.get_by_role("button", name="👍 役に立った").click()
    page.get_by_text("フィードバックを受け付けました").wait_for(timeout=WAIT_MS)
    export = httpx.get(f"{api}/v1/feedback/export").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(export)))
    assert [r["rating"] for r in rows if r["question"] == FAX] == ["up"]

    memo = page.get_by_test_id("stExpander").filter(has_text="相談メモを作る")
    memo.get_by_text("相談メモを作る", exact=False).first.click()
    memo.get_by_label("会社名（任意）").fill("山田製作所")
    memo.get_by_role("button", name="相談メモを作る").click()
    download_button = page.get_by_role("button", name="⬇️ PDF をダウンロード")
    download_button.wait_for(timeout=WAIT_MS)
    with page.expect_download(timeout=WAIT_MS) as download:
        download_button.click()
    pdf_path = data_dir / "screenshots" / "memo.pdf"
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    download.value.save_as(pdf_path)
    pdf_text = compact("".join(p.extract_text() for p in PdfReader(pdf_path).pages))
    corpus = "\n".join(compact(c.text) for c in built_index.index.chunks)
    assert "段階1" in pdf_text and "地域金融機関" in pdf_text and "山田製作所" in pdf_text
    assert (
        compact("受発注をFAXや電話のみで実施") in pdf_text
        and compact("受発注をFAXや電話のみで実施") in corpus
    )

    shot = data_dir / "screenshots" / "chat.png"
    full_screenshot(page, shot)
    assert shot.stat().st_size > 10_000
    shutil.copy(shot, "/tmp/dxnavi_chat.png")
    if shutil.which("pdftoppm"):  # the memo's first page, to look at (poppler-utils)
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf_path),
                        str(data_dir / "screenshots" / "memo")], check=True, timeout=60)  # fmt: skip
        shutil.copy(data_dir / "screenshots" / "memo.png", "/tmp/dxnavi_memo.png")


def test_the_chat_page_works_at_phone_width(page: Any, servers: tuple[str, str, Path]) -> None:
    _, ui, data_dir = servers
    phone = page.context.browser.new_context(
        viewport={"width": 390, "height": 844}, locale="ja-JP", is_mobile=True, has_touch=True
    )
    try:
        small = phone.new_page()
        answer = ask(small, ui, "DX認定のメリットは？")
        assert "DX認定" in answer.inner_text()
        assert in_viewport(small, answer)
        overflow = small.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1  # nothing wider than the phone
        shot = data_dir / "screenshots" / "chat-mobile.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        small.screenshot(path=str(shot), full_page=False)
        shutil.copy(shot, "/tmp/dxnavi_chat_mobile.png")
    finally:
        phone.close()


def test_support_staff_find_pillar_3_3_on_the_search_page(page: Any, servers: tuple[str, str, Path]) -> None:
    _, ui, data_dir = servers
    page.goto(f"{ui}/search")
    query = page.get_by_label("検索語")
    query.wait_for(timeout=WAIT_MS)
    query.fill("柱3-3")
    page.get_by_role("button", name="検索").click()
    page.get_by_text("の検索結果").wait_for(timeout=WAIT_MS)
    page.get_by_text("ITシステム・サイバーセキュリティ", exact=False).first.wait_for(timeout=WAIT_MS)
    copyable = page.get_by_test_id("stCode").filter(has_text="（出典：")
    copyable.first.wait_for(timeout=WAIT_MS)  # results render one by one
    assert "経済産業省" in copyable.first.inner_text()
    shot = data_dir / "screenshots" / "search.png"
    full_screenshot(page, shot)
    assert shot.stat().st_size > 10_000
    shutil.copy(shot, "/tmp/dxnavi_search.png")
