"""Streamlit pieces shared by the pages: API client, markdown escaping and highlighting, answer cards.

Model and document text is always shown with `st.markdown` without `unsafe_allow_html`; document text is
escaped first so that its symbols (~, $, *, [ ]) show as written.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

import streamlit as st

from bot.schemas import ChatResponse, Citation, StageEstimate
from bot.sources import answer_body, where
from ingest.normalize import compact, nfkc
from ui.client import SESSION, ApiClient, ApiError, ApiUnavailable

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~$:])")
_LINE_START = re.compile(r"^(\d+)([.)])|^([-+=])")
_SPACE = re.compile(r"\s+")


# ---- API access ------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def _client(api_url: str, api_key: str | None) -> ApiClient:
    return ApiClient(api_url, api_key)


def client() -> ApiClient:
    """The API client for the configured DXNAVI_API_URL (one per URL for the whole Streamlit server)."""
    from ground.config import load_settings

    settings = load_settings()
    key = settings.api_key.get_secret_value() if settings.api_key else None
    SESSION.set(_session_id())
    return _client(settings.api_url, key)


def _session_id() -> str | None:
    """An opaque id of this browser session (a hash: the API never sees Streamlit's own id)."""
    import hashlib

    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return hashlib.sha256(ctx.session_id.encode()).hexdigest()[:32] if ctx else None


def require_api(api: ApiClient) -> dict[str, Any]:
    """Stop the page with a clear Japanese message when the API is down or has no index yet."""
    try:
        return api.ready()
    except ApiUnavailable as exc:
        st.error(f"**API に接続できません。** {exc.message}", icon="🔌")
        st.code("make run        # API と画面をまとめて起動\ndxnavi serve    # API だけ起動", language="bash")
        st.stop()
    except ApiError as exc:
        st.warning(f"**API はまだ準備中です。** {exc.detail}", icon="⏳")
        st.stop()
    raise AssertionError("unreachable")


@st.cache_data(ttl=300, show_spinner=False)
def stages(api_url: str) -> list[dict[str, Any]]:
    return client().stages()


@st.cache_data(ttl=300, show_spinner=False)
def agencies(api_url: str) -> list[dict[str, Any]]:
    return client().agencies()


@st.cache_data(ttl=300, show_spinner=False)
def documents(api_url: str) -> list[dict[str, Any]]:
    return client().documents()


@st.cache_data(ttl=300, show_spinner=False)
def locate_quote(api_url: str, quote: str) -> dict[str, Any] | None:
    """The indexed passage that contains a catalog quote (to cite document and page)."""
    try:
        results = client().search(quote, k=3)["results"]
    except (ApiError, ApiUnavailable):
        return None
    wanted = _squash(quote)
    return next((r for r in results if wanted in _squash(r["text"])), results[0] if results else None)


# ---- text ------------------------------------------------------------------------------------
def escape_md(text: str) -> str:
    """Backslash-escape markdown syntax so document text renders literally (one line, spaces squeezed)."""
    escaped = _MD_SPECIAL.sub(r"\\\1", _SPACE.sub(" ", text).strip())
    return _LINE_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", escaped)


def escape_answer(text: str) -> str:
    """Answer markdown keeps its formatting; only `$` (math) and `~` (strikethrough) are neutralised, and
    headings are made smaller so that they sit below the page title."""
    text = text.replace("$", r"\$").replace("~", r"\~")
    return re.sub(r"^#{1,3} ", "#### ", text, flags=re.MULTILINE)


def _squash(text: str) -> str:
    return _SPACE.sub("", text)


def find_span(text: str, quote: str) -> tuple[int, int] | None:
    """Where `quote` occurs in `text`, ignoring whitespace differences; None if it does not."""
    start = text.find(quote)
    if start >= 0:
        return start, start + len(quote)
    wanted = _squash(quote)
    if not wanted:
        return None
    positions = [i for i, ch in enumerate(text) if not ch.isspace()]
    at = "".join(text[i] for i in positions).find(wanted)
    if at < 0:
        return None
    return positions[at], positions[at + len(wanted) - 1] + 1


def highlight(text: str, terms: list[str], width: int = 110, color: str = "orange") -> str:
    """Escaped markdown of `text` around the first term found, that term on a colored background.
    Without a match: the start of the text."""
    for term in terms:
        span = find_span(text, term) if term else None
        if span is None:
            continue
        start, end = span
        left = max(0, start - width)
        right = min(len(text), end + width)
        before = ("…" if left > 0 else "") + escape_md(text[left:start])
        after = escape_md(text[end:right]) + ("…" if right < len(text) else "")
        return f"{before} :{color}-background[**{escape_md(text[start:end])}**] {after}".strip()
    short = text if len(text) <= 2 * width else text[: 2 * width] + "…"
    return escape_md(short)


def safe_link(url: str | None, label: str = "資料を開く ↗") -> str:
    """A markdown link only for http(s) URLs."""
    if not url or urlparse(url).scheme not in ("http", "https") or "…" in url or "..." in url:
        return ""  # not a complete http(s) URL (text cut short with … is never a link)
    return f"[{label}]({url.replace(')', '%29').replace(' ', '%20')})"


def document_link(url: str | None, page: int | None) -> str:
    """A PDF opens at its page (#page=N); any other URL is the page where the document is published."""
    if not url:
        return ""
    if urlparse(url).path.lower().endswith(".pdf"):
        where = f"#page={page}" if page is not None else ""
        return safe_link(url + where, f"資料を開く（p.{page}）↗" if page is not None else "資料を開く ↗")
    return safe_link(url, "資料の掲載ページを開く ↗")


_SENTENCE_END = re.compile(r"(?<=[。！？])|\n+|(?=[•✓・➢▶■◆●]\s)")
_BULLETS = " •✓・➢▶■□◆◇○●"


def units(text: str) -> list[str]:
    """A passage cut into its sentences and bullet items (bullet marks removed)."""
    return [u.strip(_BULLETS) for u in _SENTENCE_END.split(text) if u.strip(_BULLETS)]


def _is_bullet(text: str, unit: str) -> bool:
    at = find_span(text, unit)
    before = text[: at[0]].rstrip(" ") if at else ""
    return bool(before) and before[-1] in _BULLETS.strip()


def excerpt(text: str, terms: list[str], limit: int = 200) -> str:
    """The sentence that contains the first matching term (else the first sentence), at most `limit` chars.
    A match that is only a label (「3-3 ITシステム・サイバーセキュリティ」) takes the sentences after it, so
    that what is copied is the clause itself."""
    sentences = units(text)
    if not sentences:
        return ""
    for term in terms:
        for i, sentence in enumerate(sentences):
            span = find_span(sentence, term) if term else None
            if span is None:
                continue
            if len(sentence) < LABEL_CHARS:
                following: list[str] = []
                for more in sentences[i + 1 :]:
                    if len(" ".join([sentence, *following, more])) > limit * 2:
                        break
                    following.append(more)
                return " ".join([sentence, *following])
            if len(sentence) <= limit:
                return sentence
            start = max(0, min(span[0] - limit // 3, len(sentence) - limit))
            return ("…" if start else "") + sentence[start : start + limit] + "…"
    first = sentences[0]
    return first if len(first) <= limit else first[:limit] + "…"


LABEL_CHARS = 30  # a matched unit shorter than this is a label or heading, not a sentence to copy


def copy_text(text: str, title: str, page: int | None, heading: str | None, url: str | None) -> str:
    """Citation text to paste into a document or an email."""
    source = "、".join(
        part
        for part in (
            title,
            f"p.{page}" if page is not None else "",
            f"「{heading}」" if heading else "",
            url or "",
        )
        if part
    )
    return f"「{_SPACE.sub(' ', text).strip()}」（出典：{source}）"


# ---- answer cards ----------------------------------------------------------------------------
def passage_for(citation: Citation, response: ChatResponse) -> str:
    chunk = next((r for r in response.retrieved if r.chunk_id == citation.chunk_id), None)
    return chunk.text if chunk is not None else citation.quote


def quote_in_context(passage: str, quote: str) -> str:
    """Markdown: the unit (sentence or bullet) that holds the quote, highlighted, with the unit before and
    after it in gray; bullet items stay list items. Compared in NFKC (a quote may keep 全角 brackets)."""
    passage, quote = nfkc(passage), nfkc(quote)
    parts = units(passage)
    at = next((i for i, u in enumerate(parts) if find_span(u, quote)), None)
    if at is None:
        return highlight(passage, [quote])
    lines = []
    for i in range(max(0, at - 1), min(len(parts), at + 2)):
        unit = parts[i]
        if i == at:
            span = find_span(unit, quote)
            assert span is not None
            start, end = span
            shown = (
                f"{escape_md(unit[:start])} :orange-background[**{escape_md(unit[start:end])}**] "
                f"{escape_md(unit[end:])}"
            ).strip()
        else:
            shown = f":gray[{escape_md(unit)}]"
        lines.append(f"- {shown}" if _is_bullet(passage, unit) else shown)
    if at > 1:
        lines.insert(0, ":gray[…]")
    if at + 2 < len(parts):
        lines.append(":gray[…]")
    return "\n\n".join(lines)


def citation_card(citation: Citation, response: ChatResponse) -> None:
    with st.container(border=True):
        st.markdown(f"**[{citation.n}] {escape_md(citation.title)}**")
        location = where(citation)
        if location:
            st.caption(escape_md(location))
        if citation.superseded_by:
            st.warning(citation.old_version_note, icon="🕰️")
        st.markdown(quote_in_context(passage_for(citation, response), citation.quote))
        link = document_link(citation.url, citation.page)
        if link:
            st.markdown(link)


def citation_cards(response: ChatResponse, expanded: bool = False) -> None:
    if not response.citations:
        return
    with st.expander(
        f"📚 出典（{len(response.citations)}件）: 本文の [n] と対応しています", expanded=expanded
    ):
        columns = st.columns(2)
        for i, citation in enumerate(response.citations):
            with columns[i % 2]:
                citation_card(citation, response)


# The page follows a streaming answer to its end; once it is complete, its beginning is brought back into
# view (the chat is read from the top of the answer, sources and memo below it). A fixed script: no answer
# or document text is ever put into it.
_SCROLL_TO_LAST_ANSWER = """
<script>
const doc = window.parent.document;
function toAnswer() {
  const messages = [...doc.querySelectorAll('[data-testid="stChatMessage"]')];
  const last = messages.filter(m => m.querySelector('[data-testid="stChatMessageAvatarAssistant"]')).pop();
  if (!last) return;
  const header = doc.querySelector('[data-testid="stHeader"]');
  last.style.scrollMarginTop = ((header ? header.getBoundingClientRect().height : 0) + 8) + "px";
  last.scrollIntoView({block: "start"});
}
for (const ms of [100, 400, 900, 1600]) setTimeout(toAnswer, ms);
</script>
"""


def scroll_to_last_answer() -> None:
    import streamlit.components.v1 as components

    components.html(_SCROLL_TO_LAST_ANSWER, height=0)


def stage_track(level: int, all_stages: list[dict[str, Any]]) -> None:
    """The 4 steps of digital adoption side by side, the current one emphasized."""
    columns = st.columns(4)
    for column, stage in zip(columns, all_stages[:4], strict=False):
        with column, st.container(border=True):
            if stage["level"] == level:
                st.markdown(
                    f":blue-background[**段階{stage['level']}**] 📍\n\n**{escape_md(stage['label'])}**"
                )
            else:
                st.markdown(f":gray[段階{stage['level']}]\n\n:gray[{escape_md(stage['label'])}]")
    st.progress(level / 4, text=f"現在地: 段階{level} / 4")


def stage_block(stage: StageEstimate, all_stages: list[dict[str, Any]], body: str) -> None:
    st.markdown("##### 🧭 DX段階（デジタル活用の4段階）")
    stage_track(stage.level, all_stages)
    if compact(stage.reason) not in compact(body):  # answers that place the owner explain it in the text
        st.markdown(escape_answer(stage.reason))


def answer(response: ChatResponse, all_stages: list[dict[str, Any]]) -> None:
    """One assistant answer: the text (with its 相談先), then the DX段階 track and the 出典 cards."""
    body = answer_body(response.answer)
    st.markdown(escape_answer(body))
    if response.notice:
        st.info(response.notice)
    if response.stage is not None and all_stages:
        stage_block(response.stage, all_stages, body)
    # The agencies are in the text (### 相談先, cited); no second copy as cards.
    # Sources stay folded under the answer (one click opens them): an answer cites a quote per claim,
    # and a wall of cards would push the answer itself off the screen.
    citation_cards(response)
