"""`dxnavi corpus fetch`: download the official guides listed in `corpus/manifest.yaml` into the corpus.

Each entry's PDF comes from its `download_url` or, failing that, from its landing page (`discover`: the
newest PDF link that fits the entry; see ingest.discover). What a download resolved to (URL, size,
sha256, date) goes into `corpus/manifest.lock.yaml`: later fetches download that same URL and check it
against the lock, so a PDF that changed at the source is noticed; `--update` looks at the pages again.

Downloads go to a hidden `.<file>.part` beside the target (ingest ignores hidden files) and resume from
there with an HTTP Range request; the file is renamed into place only after its size and sha256 (when the
manifest records them) check out.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from ground.errors import FetchError
from ground.yamlfile import read_yaml
from ingest.discover import Discovered, find_pdf
from ingest.load import sha256_of
from ingest.manifest import LOCK_NAME, DocumentInfo, load_manifest

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0
USER_AGENT = "dxnavi-corpus-fetch/0.1"

Status = Literal["downloaded", "resumed", "updated", "present", "planned", "failed"]
# (file name, bytes done so far, total bytes or None) → None; called as the body streams in.
ProgressHook = Callable[[str, int, int | None], None]


@dataclass
class FetchResult:
    doc_id: str
    file: str
    status: Status
    path: Path
    bytes: int = 0
    reason: str | None = None
    url: str | None = None  # the PDF it came (or would come) from
    found: Discovered | None = None  # what the landing page offered, when it was read
    note: str | None = None  # something to tell the user that is not a failure (a moved page, a new version)


class Locked(BaseModel):
    """One resolved download, as recorded in manifest.lock.yaml."""

    url: str
    page: str | None = None
    size: int
    sha256: str
    fetched: str  # ISO 8601, UTC


def lock_path(corpus_dir: Path) -> Path:
    return corpus_dir / LOCK_NAME


def read_lock(corpus_dir: Path) -> dict[str, Locked]:
    """The lock's entries by document id; an absent or unreadable lock is an empty one (with a warning)."""
    path = lock_path(corpus_dir)
    if not path.is_file():
        return {}
    try:
        raw = read_yaml(path) or {}
        return {doc_id: Locked(**entry) for doc_id, entry in (raw.get("documents") or {}).items()}
    except (ValidationError, TypeError, AttributeError, ValueError) as exc:
        log.warning("%s is unreadable (%s); fetching as if there were no lock", path, exc)
        return {}


def write_lock(corpus_dir: Path, entries: dict[str, Locked]) -> None:
    """Write the lock atomically (a temporary file renamed into place)."""
    import yaml

    path = lock_path(corpus_dir)
    body = {"documents": {doc_id: e.model_dump(exclude_none=True) for doc_id, e in sorted(entries.items())}}
    header = (
        "# Written by `dxnavi corpus fetch`: the PDF each document resolved to. A later fetch downloads the\n"
        "# same URL and checks size and sha256; `dxnavi corpus fetch --update` looks at the pages again.\n"
    )
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(header + yaml.safe_dump(body, allow_unicode=True, sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)


class OfflineError(FetchError):
    """The download host cannot be reached at all; the remaining downloads are not tried."""


def part_path(dest: Path) -> Path:
    """Where an unfinished download of `dest` is kept (hidden, so `dxnavi ingest` never reads it)."""
    return dest.with_name(f".{dest.name}.part")


def downloadable(corpus_dir: Path, only: list[str] | None = None) -> list[DocumentInfo]:
    """Manifest documents with a download_url or a landing page (optionally only those with the given ids)."""
    docs = [d for d in load_manifest(corpus_dir).values() if d.download_url or d.discover]
    if only:
        known = {d.id for d in docs}
        unknown = [i for i in only if i not in known]
        if unknown:
            raise FetchError(
                f"manifest.yaml に取得元（download_url か discover）のある文書ID {', '.join(unknown)} が"
                "見つかりません。"
                f"使える文書ID: {', '.join(sorted(known)) or '（なし）'}"
            )
        docs = [d for d in docs if d.id in only]
    return docs


@dataclass(frozen=True)
class Expected:
    """The size and sha256 a download must have, and where they were recorded."""

    size: int | None = None
    sha256: str | None = None
    recorded_in: str = "manifest.yaml"


def verify(path: Path, expected: Expected) -> str | None:
    """None when the file matches the recorded size and sha256 (where recorded), else the reason."""
    size = path.stat().st_size
    where = expected.recorded_in
    if expected.size is not None and size != expected.size:
        return f"サイズが {where} の記録と違います（記録 {expected.size:,} バイト、実際 {size:,} バイト）"
    if expected.sha256:
        actual = sha256_of(path)
        if actual.lower() != expected.sha256.lower():
            return f"sha256 が {where} の記録と違います（記録 {expected.sha256}、実際 {actual}）"
    return None


def _offline_message(url: str, exc: Exception) -> str:
    host = urlsplit(url).netloc or url
    return (
        f"{host} に接続できません（{type(exc).__name__}）。ネットワークにつながっているか、"
        "プロキシが必要なら HTTPS_PROXY を設定したかを確認して、"
        "もう一度 `dxnavi corpus fetch` を実行してください。"
        "オフラインの環境では、PDF を別の端末でダウンロードしてコーパスのフォルダに置き、"
        "`dxnavi ingest` を実行してください。"
    )


def _total_from(response: httpx.Response, offset: int) -> int | None:
    """The whole file's size from Content-Range (206) or Content-Length (200)."""
    if response.status_code == 206:
        content_range = response.headers.get("content-range", "")
        total = content_range.rpartition("/")[2]
        return int(total) if total.isdigit() else None
    length = response.headers.get("content-length")
    return int(length) if length and length.isdigit() else None


def _range_start(response: httpx.Response) -> int | None:
    content_range = response.headers.get("content-range", "")  # "bytes 100-199/200"
    try:
        return int(content_range.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def download(
    client: httpx.Client,
    url: str,
    dest: Path,
    expected: Expected,
    progress: ProgressHook | None = None,
    from_page: bool = False,
) -> Status:
    """Download `url` into `dest`, resuming a kept `.part`; returns "downloaded" or "resumed". `from_page`:
    the URL was found on a landing page (or locked from one), not written in the manifest."""
    name = dest.name
    part = part_path(dest)
    offset = part.stat().st_size if part.is_file() else 0
    if expected.size is not None and offset > expected.size:
        part.unlink()  # longer than the whole file: not ours to resume
        offset = 0
    resumed = offset > 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 416 and offset:
                # The .part already holds every byte (or is junk): check it below / start over.
                if expected.size is None or offset != expected.size:
                    part.unlink()
                    return download(client, url, dest, expected, progress, from_page)
            elif response.status_code >= 400:
                fix = (
                    "PDF が移動した可能性があります。`dxnavi corpus fetch --update` で配布元のページから探し直してください。"
                    if from_page
                    else "配布元のページで最新の PDF の URL を確かめ、manifest.yaml の download_url を直してください。"
                )
                raise FetchError(
                    f"{name} をダウンロードできません: HTTP {response.status_code}（{url}）。{fix}"
                )
            else:
                if response.status_code == 206 and _range_start(response) != offset:
                    raise FetchError(f"{name}: サーバーが要求と違う範囲を返しました（{url}）。")
                if response.status_code != 206:
                    offset, resumed = 0, False  # the server ignored Range: start from the beginning
                total = _total_from(response, offset)
                done = offset
                with part.open("ab" if offset else "wb") as fh:
                    if progress:
                        progress(name, done, total)
                    for block in response.iter_bytes():
                        fh.write(block)
                        done += len(block)
                        if progress:
                            progress(name, done, total)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise OfflineError(_offline_message(url, exc)) from exc
    except (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.WriteError) as exc:
        kept = part.stat().st_size if part.is_file() else 0
        raise FetchError(
            f"{name} のダウンロードが途中で切れました（{kept:,} バイトまで受信、{type(exc).__name__}）。"
            "もう一度 `dxnavi corpus fetch` を実行すると続きから再開します。"
        ) from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{name} をダウンロードできません（{type(exc).__name__}: {exc}、{url}）。") from exc

    problem = verify(part, expected)
    if problem is not None:
        part.unlink()  # a complete but wrong file: resuming it would not help
        if expected.recorded_in == LOCK_NAME:
            raise FetchError(
                f"{name}: 配布元の PDF が前回の取得から変わっています（{problem}）。"
                "新しい版に差し替えられた可能性があります。`dxnavi corpus fetch --update` で取り直し、"
                "`dxnavi ingest` で取り込み直してください。"
            )
        raise FetchError(
            f"{name}: {problem}。配布元のファイルが更新された可能性があります。"
            "配布元のページで確かめ、manifest.yaml の sha256 / size を直してから、もう一度実行してください。"
        )
    os.replace(part, dest)
    return "resumed" if resumed else "downloaded"


def _resolve(
    client: httpx.Client, info: DocumentInfo, locked: Locked | None, look: bool
) -> tuple[str, Expected, Discovered | None]:
    """The PDF URL for `info` and what the manifest says it must match: the manifest's download_url, else
    the lock's URL, else (or when `look`) the newest fitting link on the landing page."""
    manifest = Expected(info.size, info.sha256)
    if info.download_url:
        return info.download_url, manifest, None
    if locked is not None and not look:
        return locked.url, manifest, None
    assert info.discover is not None
    found = find_pdf(client, info.id, info.discover)
    assert found.chosen is not None
    return found.chosen.url, manifest, found


def _notes(found: Discovered | None, locked: Locked | None, url: str) -> str | None:
    notes = []
    if found is not None and found.moved:
        notes.append(
            f"ページが移動しています（{found.page} → {found.final_page}）。manifest.yaml の discover.page を"
            "新しいページに直してください。"
        )
    if locked is not None and url != locked.url:
        notes.append(
            f"前回（{locked.fetched[:10]}）の取得元は {locked.url} です。ページに新しい PDF があります。"
        )
    return "".join(notes) or None


def fetch_corpus(
    corpus_dir: Path,
    only: list[str] | None = None,
    force: bool = False,
    progress: ProgressHook | None = None,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    read_timeout: float = READ_TIMEOUT_S,
    update: bool = False,
    dry_run: bool = False,
) -> list[FetchResult]:
    """Download every fetchable manifest document that is missing or does not verify, and lock what each
    resolved to. `update` reads the landing pages again instead of trusting the lock; `dry_run` reads
    them and reports what would be fetched ("planned") without downloading anything.

    Each failure is recorded and the next document is tried; when the host cannot be reached at all the
    remaining documents are marked failed without trying (fail fast offline).
    """
    docs = downloadable(corpus_dir, only)
    lock = read_lock(corpus_dir)
    results: list[FetchResult] = []
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
    offline: str | None = None
    locked_any = False
    with httpx.Client(timeout=timeout, follow_redirects=True, headers={"User-Agent": USER_AGENT}) as client:
        for info in docs:
            dest = corpus_dir / info.file
            result = FetchResult(doc_id=info.id, file=info.file, status="failed", path=dest)
            results.append(result)
            if offline is not None:
                result.reason = "接続できないため試していません。"
                continue
            locked = lock.get(info.id)
            try:
                url, expected, result.found = _resolve(client, info, locked, update or dry_run)
                result.note = _notes(result.found, locked, url)
                if dry_run and locked is not None and not update and not info.download_url:
                    url = locked.url  # what a fetch would take (the page was read only to show it)
                result.url = url
                if locked is not None and url == locked.url and not update:
                    expected = Expected(locked.size, locked.sha256, LOCK_NAME)  # what it was last time
                fresh = update and locked is not None and url != locked.url
                if dest.is_file() and not force and not fresh:
                    problem = verify(dest, expected)
                    if problem is None:
                        result.status, result.bytes = "present", dest.stat().st_size
                        continue
                    log.warning("%s does not verify (%s); downloading it again", dest, problem)
                if dry_run:
                    result.status = "planned"
                    continue
                result.status = download(
                    client, url, dest, expected, progress, from_page=not info.download_url
                )
            except OfflineError as exc:
                offline = result.reason = exc.message
                continue
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                offline = result.reason = _offline_message(info.discover.page if info.discover else "", exc)
                continue
            except FetchError as exc:
                result.reason = exc.message
                log.warning("fetch of %s failed: %s", info.file, exc.message)
                continue
            result.bytes = dest.stat().st_size
            digest = sha256_of(dest)
            if locked is not None and digest != locked.sha256:
                result.status = "updated"
            lock[info.id] = Locked(
                url=url,
                page=result.found.final_page if result.found else (locked.page if locked else None),
                size=result.bytes,
                sha256=digest,
                fetched=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            locked_any = True
    if locked_any:
        write_lock(corpus_dir, lock)
    return results
