"""Find a guide's PDF on its official landing page: the links that match the manifest entry's words and
file-name pattern, the newest version first.

METI's pages link several PDFs each (本文, 概要, 英語版, older versions), by relative links; pages move
(an HTTP redirect or a `<meta http-equiv="refresh">`). `find_pdf` follows both and says where it went.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

import httpx
from bs4 import BeautifulSoup, Tag

from ground.errors import FetchError
from ingest.manifest import Discovery
from ingest.normalize import nfkc

MAX_REFRESHES = 3
_REFRESH_URL = re.compile(r"url\s*=\s*['\"]?([^'\";]+)", re.IGNORECASE)
_DATE = re.compile(r"(20\d{2})[-_/.年]?(\d{2})[-_/.月]?(\d{2})")
_YEAR = re.compile(r"(?<!\d)(20\d{2})(?!\d)")
_ERA = re.compile(r"(令和|平成)\s*(\d{1,2}|元)\s*年")
_VERSION = re.compile(r"(?:ver\.?|version|第)?\s*(\d{1,2})\.(\d{1,2})(?:\s*版)?", re.IGNORECASE)
_ERA_BASE = {"令和": 2018, "平成": 1988}


@dataclass(frozen=True)
class PdfLink:
    """One PDF linked from a page: its absolute URL, the link's text and the text around it."""

    url: str
    text: str
    context: str

    @property
    def file_name(self) -> str:
        return unquote(PurePosixPath(urlsplit(self.url).path).name)

    def version_key(self) -> tuple[int, int, int]:
        """(year, major, minor) read from the link text, its context and the file name (0 when absent):
        the newest version sorts last. 「令和7年」 counts as 2025, 「20240919」 as 2024."""
        haystack = nfkc(f"{self.text} {self.context} {self.file_name}")
        years = [int(m.group(1)) for m in _DATE.finditer(haystack)]
        years += [int(m.group(1)) for m in _YEAR.finditer(haystack)]
        years += [
            _ERA_BASE[m.group(1)] + (1 if m.group(2) == "元" else int(m.group(2)))
            for m in _ERA.finditer(haystack)
        ]
        versions = [
            (int(m.group(1)), int(m.group(2))) for m in _VERSION.finditer(self.text or self.file_name)
        ]
        return (max(years, default=0), *max(versions, default=(0, 0)))


@dataclass
class Discovered:
    """What a landing page offered for one manifest entry."""

    page: str  # the page as asked for
    final_page: str  # where it was found (after redirects / meta refresh)
    links: list[PdfLink] = field(default_factory=list)  # every PDF on the page
    matches: list[PdfLink] = field(default_factory=list)  # those that fit the entry, newest first

    @property
    def moved(self) -> bool:
        return self.final_page.rstrip("/") != self.page.rstrip("/")

    @property
    def chosen(self) -> PdfLink | None:
        return self.matches[0] if self.matches else None


def pdf_links(html: str, base_url: str) -> list[PdfLink]:
    """Every link to a PDF on the page, as absolute URLs in page order (each URL once)."""
    soup = BeautifulSoup(html, "html.parser")
    base_tag = soup.find("base", href=True)
    if isinstance(base_tag, Tag):
        base_url = urljoin(base_url, str(base_tag["href"]))
    seen: dict[str, PdfLink] = {}
    for anchor in soup.find_all("a", href=True):
        href = str(anchor["href"]).strip()
        url = urljoin(base_url, href)
        if not urlsplit(url).path.lower().endswith(".pdf") or url in seen:
            continue
        text = " ".join(anchor.get_text(" ", strip=True).split())
        holder = anchor.find_parent(["li", "p", "td", "dd", "div"])
        context = " ".join(holder.get_text(" ", strip=True).split()) if holder is not None else text
        seen[url] = PdfLink(url=url, text=text, context=context)
    return list(seen.values())


def matching(links: list[PdfLink], rule: Discovery) -> list[PdfLink]:
    """The links that fit the rule, newest version first (page order among equals)."""
    pattern = re.compile(rule.file_pattern, re.IGNORECASE) if rule.file_pattern else None

    def fits(link: PdfLink) -> bool:
        said = nfkc(f"{link.text} {link.context} {link.file_name}").lower()
        return (
            all(nfkc(w).lower() in said for w in rule.words)
            and not any(
                nfkc(w).lower() in nfkc(f"{link.text} {link.file_name}").lower() for w in rule.exclude
            )
            and (pattern is None or pattern.search(link.file_name) is not None)
        )

    found = [link for link in links if fits(link)]
    order = {link.url: i for i, link in enumerate(found)}
    return sorted(found, key=lambda link: (tuple(-v for v in link.version_key()), order[link.url]))


def _refresh_target(html: str, base_url: str) -> str | None:
    """The URL a `<meta http-equiv="refresh" content="0; url=...">` sends the browser to."""
    soup = BeautifulSoup(html, "html.parser")
    for meta in soup.find_all("meta"):
        if str(meta.get("http-equiv", "")).lower() == "refresh":
            match = _REFRESH_URL.search(str(meta.get("content", "")))
            if match:
                return urljoin(base_url, match.group(1).strip())
    return None


def find_pdf(client: httpx.Client, doc_id: str, rule: Discovery) -> Discovered:
    """Read the entry's landing page and pick its PDF; a missing page or no match raises `FetchError`."""
    url = rule.page
    for _ in range(MAX_REFRESHES + 1):
        try:
            response = client.get(url)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise  # the caller stops trying the other documents (offline)
        except httpx.HTTPError as exc:
            raise FetchError(
                f"{doc_id}: 配布元のページを読めません（{type(exc).__name__}、{url}）。"
                "ネットワークにつながっているか確かめてください。"
            ) from exc
        if response.status_code >= 400:
            raise FetchError(
                f"{doc_id}: 配布元のページが見つかりません（HTTP {response.status_code}、{url}）。"
                "ページが移動した可能性があります。公式サイトで新しいページを探し、"
                "manifest.yaml の discover.page を直してください。"
            )
        final = str(response.url)
        target = _refresh_target(response.text, final)
        if target is None or target == final:
            break
        url = target
    else:
        raise FetchError(f"{doc_id}: 配布元のページの転送が多すぎます（{rule.page}）。")
    found = Discovered(page=rule.page, final_page=final, links=pdf_links(response.text, final))
    found.matches = matching(found.links, rule)
    if not found.matches:
        offered = (
            "、".join(f"{link.text or link.file_name}" for link in found.links[:8]) or "（PDF のリンクなし）"
        )
        raise FetchError(
            f"{doc_id}: 配布元のページに条件に合う PDF がありません（{final}）。"
            f"ページにある PDF: {offered}。manifest.yaml の discover.words / file_pattern を見直してください。"
        )
    return found
