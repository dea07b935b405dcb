"""End to end in a real browser: the API and `streamlit run` on 127.0.0.1, Debian's chromium driven by
Playwright. Screenshots go to the test's data folder and to /tmp/dxnavi_chat.png, /tmp/dxnavi_search.png."""

from __future__ import annotations

import csv
import io
import shutil
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


def test_owner_asks_in_the_browser_and_sees_answer_sources_and_agency(
    page: Any, servers: tuple[str, str, Path]
) -> None:
    api, ui, data_dir = servers
    page.goto(ui)
    box = page.get_by_test_id("stChatInputTextArea")
    box.wait_for(timeout=WAIT_MS)
    box.fill(FAX)
    box.press("Enter")

    thumbs_up = page.get_by_role("button", name="👍 役に立った")
    thumbs_up.wait_for(timeout=WAIT_MS)
    answer = page.get_by_test_id("stChatMessage").nth(1)
    assert "最初の一歩" in answer.inner_text()
    sources = page.get_by_test_id("stExpander").filter(has_text="出典")
    assert sources.count() == 1
    sources.get_by_text("出典", exact=False).first.click()  # folded under the answer until opened
    card = sources.get_by_text("[1] 経済産業省", exact=False).first
    card.wait_for(timeout=WAIT_MS)
    assert card.is_visible()
    agency = page.get_by_text("🏢 地域金融機関", exact=False).first
    assert agency.is_visible()
    assert page.get_by_text("段階1", exact=False).first.is_visible()

    thumbs_up.click()
    page.get_by_text("フィードバックを受け付けました").wait_for(timeout=WAIT_MS)
    export = httpx.get(f"{api}/v1/feedback/export").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(export)))
    assert [r["rating"] for r in rows if r["question"] == FAX] == ["up"]

    shot = data_dir / "screenshots" / "chat.png"
    full_screenshot(page, shot)
    assert shot.stat().st_size > 10_000
    shutil.copy(shot, "/tmp/dxnavi_chat.png")


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
