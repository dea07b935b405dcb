"""Read one corpus file (PDF, text, Markdown, HTML) into raw page texts.

Bad inputs raise `LoadError` with a Japanese message that says what to do; ingest reports it and goes on.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import io
import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup
from charset_normalizer import from_bytes
from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

from ground.errors import LoadError

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES: frozenset[str] = frozenset({".pdf", ".txt", ".md", ".markdown", ".html", ".htm"})

_KIND_BY_SUFFIX: dict[str, str] = {
    ".pdf": "pdf",
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
}

# Titles that PDF producers write when the author set none (reportlab writes "untitled").
_PLACEHOLDER_TITLES = frozenset({"untitled", "no title", "無題", "無題のドキュメント"})

# Controls that legitimately occur in text files; anything else in decoded text means a wrong guess.
# Vertical tab is Word's manual line break and survives copy-paste into text files.
_ALLOWED_CONTROLS = frozenset("\t\n\v\r\f")

_HTML_DROP_TAGS = ("script", "style", "nav", "noscript", "template", "svg", "iframe", "head")
# Blocks become paragraphs (blank line around them); line tags just end a line, so list items stay together.
_HTML_BLOCK_TAGS = (
    "address", "article", "aside", "blockquote", "caption", "div", "dl", "figcaption", "figure",
    "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "main", "ol", "p", "pre",
    "section", "table", "ul",
)  # fmt: skip
_HTML_LINE_TAGS = ("br", "dd", "dt", "li", "tr")
_HTML_CELL_TAGS = ("td", "th")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)
_MD_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_MD_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$")
_MD_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Page:
    """One page of raw text. `number` is 1-based; Markdown and HTML are always a single page 1."""

    number: int
    text: str


@dataclass(frozen=True)
class LoadedDocument:
    """A file read from disk: its pages, a title guess, and the hash and encoding it was read with."""

    path: Path
    kind: str
    pages: list[Page]
    title_hint: str | None
    sha256: str
    encoding: str | None


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks; a link that leads to no file is known by its target."""
    if path.is_symlink() and not path.is_file():
        return f"symlink:{os.readlink(path)}"
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_document(path: Path) -> LoadedDocument:
    """Read `path` into pages of raw text; raise `LoadError` with a Japanese reason when it cannot."""
    path = Path(path)
    if path.is_symlink() and not path.is_file():
        raise LoadError(_symlink_problem(path))
    suffix = path.suffix.lower()
    kind = _KIND_BY_SUFFIX.get(suffix)
    if kind is None:
        shown = suffix or "拡張子なし"
        raise LoadError(
            f"対応していない形式です（{shown}）: {path.name}。"
            "PDF・TXT・MD・HTML に変換して corpus/ に置いてください。"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(
            f"ファイルを読めません: {path.name}（{exc.strerror or exc}）。"
            "ファイルが存在し、読み取り権限があるか確かめてください。"
        ) from exc
    if not data:
        raise LoadError(
            f"空のファイルです（0 バイト）: {path.name}。中身のあるファイルを置き直すか、削除してください。"
        )
    digest = hashlib.sha256(data).hexdigest()

    if kind == "pdf":
        pages, title = _load_pdf(path, data)
        return LoadedDocument(path, kind, pages, title, digest, None)

    text, encoding = _decode_text(path, data)
    if kind == "txt":
        pages = _split_form_feeds(text)
        title = None
    elif kind == "md":
        pages = [Page(1, _MD_COMMENT.sub("", text))]
        title = _markdown_title(text)
    else:
        body, title = _html_text(text)
        pages = [Page(1, body)]
    if not any(_visible(page.text) for page in pages):
        raise LoadError(
            f"本文がありません: {path.name}（空白やゼロ幅文字だけ、またはスクリプトで描画されるページです）。"
            "本文を含むファイルに差し替えてください。"
        )
    return LoadedDocument(path, kind, pages, title, digest, encoding)


def _load_pdf(path: Path, data: bytes) -> tuple[list[Page], str | None]:
    """Extract each page's text with pypdf; encrypted, broken and image-only PDFs raise `LoadError`."""
    broken = (
        f"PDF が壊れていて読めません: {path.name}。"
        "ダウンロードし直すか、PDF ビューアで開けることを確かめてから置き直してください。"
    )
    locked = (
        f"パスワードで保護された PDF のため読めません: {path.name}。"
        "パスワードを解除した PDF を保存し直して corpus/ に置いてください。"
    )
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(locked)
        page_objects = list(reader.pages)
    except LoadError:
        raise
    except FileNotDecryptedError as exc:
        raise LoadError(locked) from exc
    except DependencyError as exc:
        raise LoadError(
            f"暗号化された PDF を開くための部品がありません: {path.name}（{exc}）。"
            "`pip install cryptography` を実行してください。"
        ) from exc
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        # pypdf surfaces corrupt structure as its own errors and as plain Python ones.
        raise LoadError(f"{broken}（{type(exc).__name__}: {exc}）") from exc
    if not page_objects:
        raise LoadError(f"{broken}（ページが 0 枚です）")

    pages: list[Page] = []
    failures: list[str] = []
    for number, page in enumerate(page_objects, start=1):
        try:
            text = page.extract_text() or ""
        except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
            logger.warning(
                "%s: page %d text extraction failed: %s: %s", path, number, type(exc).__name__, exc
            )
            failures.append(f"{number} ページ目: {type(exc).__name__}: {exc}")
            text = ""
        pages.append(Page(number, text))

    if len(failures) == len(pages):
        raise LoadError(f"{broken}（{failures[0]}）")
    if not any(page.text.strip() for page in pages):
        raise LoadError(
            f"PDF から文字を取り出せません（画像だけの PDF のようです）: {path.name}。"
            "OCR には対応していません。先に OCR をかけて、文字情報のある PDF にしてから置いてください。"
        )
    if failures:
        logger.warning(
            "%s: %d of %d pages had no extractable text due to errors", path, len(failures), len(pages)
        )
    return pages, _pdf_title(path, reader)


def _pdf_title(path: Path, reader: PdfReader) -> str | None:
    """Return the /Title metadata unless it is missing, unreadable or a producer's placeholder."""
    try:
        metadata = reader.metadata
        raw = metadata.title if metadata is not None else None
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.warning("%s: unreadable PDF metadata, no title hint: %s", path, exc)
        return None
    if not isinstance(raw, str):
        return None
    title = raw.strip()
    if not title or title.lower() in _PLACEHOLDER_TITLES:
        return None
    return title


def _reads_as_japanese(text: str) -> bool:
    """Text read with a guessed codec is Japanese when it is nearly all Japanese characters and holds kana
    or 。、 (other bytes read as UTF-16 give kanji-like noise without them)."""
    kana = sum(0x3001 <= ord(ch) <= 0x30FF for ch in text)
    return _japanese_score(text) >= 0.9 and kana >= max(1, len(text) // 20)


def _visible(text: str) -> bool:
    """Does the text hold anything to read (not only spaces and zero-width or other format characters)?"""
    return any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text)


def _symlink_problem(path: Path) -> str:
    """Why a symbolic link in the corpus is not read (it does not lead to a file)."""
    try:
        target = path.resolve(strict=True)
    except RuntimeError:  # Python 3.11 reports a loop this way
        return f"シンボリックリンクがループしています: {path.name}。リンクを消すか、実際のファイルを置いてください。"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"シンボリックリンクがループしています: {path.name}。リンクを消すか、実際のファイルを置いてください。"
        return f"シンボリックリンクのリンク先がありません: {path.name}。リンクを消すか、実際のファイルを置いてください。"
    if target.is_dir():
        return (
            f"フォルダへのシンボリックリンクはたどりません: {path.name}。"
            "そのフォルダを `dxnavi ingest フォルダ` で指定するか、ファイルを corpus/ に置いてください。"
        )
    return f"通常のファイルではありません: {path.name}。"


def _decode_text(path: Path, data: bytes) -> tuple[str, str]:
    """Decode text bytes: BOMs, then UTF-8, then the most Japanese-looking of CP932, EUC-JP and a guess."""
    undecodable = (
        f"文字コードを判定できません: {path.name}。"
        "テキストエディタで開いて UTF-8 で保存し直してから置いてください。"
    )
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                raise LoadError(
                    f"{undecodable}（{codec} の BOM があるのに読めません: {exc.reason}）"
                ) from exc
            if _looks_broken(text):
                raise LoadError(f"{undecodable}（制御文字や置換文字が含まれます）")
            return text, codec
    # UTF-16 without a BOM (Windows tools write it): Japanese text decodes cleanly and reads as Japanese.
    if len(data) % 2 == 0:
        for codec in ("utf-16-le", "utf-16-be"):
            decoded = _strict_decode(data, codec)
            if decoded is not None and not _looks_broken(decoded) and _reads_as_japanese(decoded):
                return decoded, codec
    if b"\x00" in data:
        raise LoadError(f"{undecodable}（NUL バイトを含むため、テキストではなくバイナリのようです）")

    utf8 = _strict_decode(data, "utf-8")
    if utf8 is not None:
        if _looks_broken(utf8):
            raise LoadError(f"{undecodable}（制御文字や置換文字が含まれます）")
        return utf8, "utf-8"

    candidates = ["cp932", "euc_jp"]
    declared = _META_CHARSET.search(data[:4096])
    if declared:
        candidates.insert(0, declared.group(1).decode("ascii").lower())
    guessed = _charset_guess(data)
    if guessed:
        candidates.append(guessed)

    best: tuple[float, str, str] | None = None
    for codec in dict.fromkeys(candidates):
        decoded = _strict_decode(data, codec)
        if decoded is None or _looks_broken(decoded):
            continue
        score = _japanese_score(decoded)
        if best is None or score > best[0]:
            best = (score, decoded, codec)
    if best is None or best[0] < 0.6:
        logger.warning("%s: no candidate encoding among %s gave plausible text", path, candidates)
        raise LoadError(undecodable)
    score, text, codec = best
    logger.info("%s: decoded as %s (score %.2f)", path, codec, score)
    return text, codec


def _strict_decode(data: bytes, codec: str) -> str | None:
    """Decode strictly, or None when the bytes are not valid in `codec` (or the codec is unknown)."""
    try:
        text = data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None
    return text.rstrip("\x1a")  # DOS end-of-file marker left by old Shift_JIS editors


def _charset_guess(data: bytes) -> str | None:
    """Ask charset-normalizer for its best guess; it is unreliable on short Japanese, so only a candidate."""
    match = from_bytes(data).best()
    return match.encoding if match is not None else None


def _looks_broken(text: str) -> bool:
    """True when decoded text holds replacement characters or control codes a real text file lacks."""
    if "\ufffd" in text:
        return True
    return any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS for ch in text)


def _japanese_score(text: str) -> float:
    """Share of characters typical of Japanese documents; wrong decodings yield half-width kana or PUA."""
    if not text:
        return 0.0
    good = 0
    for ch in text:
        code = ord(ch)
        if (
            code < 0x80
            or 0x3000 <= code <= 0x30FF  # CJK punctuation, hiragana, katakana
            or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
            or 0xFF01 <= code <= 0xFF5E  # full-width ASCII
            or 0x2010 <= code <= 0x2312  # dashes, quotes, arrows, math and box symbols common in JIS
            or 0x2460 <= code <= 0x24FF  # circled numbers
            or 0x00C0 <= code <= 0x00FF  # Latin-1 letters
        ):
            good += 1
    return good / len(text)


def _split_form_feeds(text: str) -> list[Page]:
    """Split plain text into pages at form feeds; a trailing form feed does not open an empty page."""
    parts = text.split("\f")
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()
    return [Page(number, part) for number, part in enumerate(parts, start=1)]


def _markdown_title(text: str) -> str | None:
    """Return the first level-1 ATX heading outside fenced code blocks and HTML comments."""
    in_fence = False
    for line in _MD_COMMENT.sub("", text).splitlines():
        if _MD_FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        match = _MD_HEADING.match(line)
        if match:
            return match.group(1).strip() or None
    return None


def _html_text(html: str) -> tuple[str, str | None]:
    """Return the visible text of an HTML page with block elements on their own lines, and its <title>."""
    soup = BeautifulSoup(html, "html.parser")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag is not None else ""
    if title_tag is not None:
        title_tag.decompose()
    for tag in soup.find_all(_HTML_DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all(_HTML_BLOCK_TAGS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    for tag in soup.find_all(_HTML_LINE_TAGS):
        tag.insert_after("\n")
    for tag in soup.find_all(_HTML_CELL_TAGS):
        tag.insert_after("\t")

    lines = [line.strip() for line in soup.get_text().splitlines()]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip("\n"), (title or None)
