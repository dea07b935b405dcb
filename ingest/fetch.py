"""`dxnavi corpus fetch`: download the official guides listed in `corpus/manifest.yaml` into the corpus.

Downloads go to a hidden `.<file>.part` beside the target (ingest ignores hidden files) and resume from
there with an HTTP Range request; the file is renamed into place only after its size and sha256 (when the
manifest records them) check out.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import httpx

from ground.errors import FetchError
from ingest.load import sha256_of
from ingest.manifest import DocumentInfo, load_manifest

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0
USER_AGENT = "dxnavi-corpus-fetch/0.1"

Status = Literal["downloaded", "resumed", "present", "failed"]
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


class OfflineError(FetchError):
    """The download host cannot be reached at all; the remaining downloads are not tried."""


def part_path(dest: Path) -> Path:
    """Where an unfinished download of `dest` is kept (hidden, so `dxnavi ingest` never reads it)."""
    return dest.with_name(f".{dest.name}.part")


def downloadable(corpus_dir: Path, only: list[str] | None = None) -> list[DocumentInfo]:
    """Manifest documents that have a download_url (optionally only those with the given ids)."""
    docs = [d for d in load_manifest(corpus_dir).values() if d.download_url]
    if only:
        known = {d.id for d in docs}
        unknown = [i for i in only if i not in known]
        if unknown:
            raise FetchError(
                f"manifest.yaml に download_url のある文書ID {', '.join(unknown)} が見つかりません。"
                f"使える文書ID: {', '.join(sorted(known)) or '（なし）'}"
            )
        docs = [d for d in docs if d.id in only]
    return docs


def verify(path: Path, info: DocumentInfo) -> str | None:
    """None when the file matches the manifest's size and sha256 (where recorded), else the reason."""
    size = path.stat().st_size
    if info.size is not None and size != info.size:
        return f"サイズが manifest.yaml の記録と違います（記録 {info.size:,} バイト、実際 {size:,} バイト）"
    if info.sha256:
        actual = sha256_of(path)
        if actual.lower() != info.sha256.lower():
            return f"sha256 が manifest.yaml の記録と違います（記録 {info.sha256}、実際 {actual}）"
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
    client: httpx.Client, info: DocumentInfo, dest: Path, progress: ProgressHook | None = None
) -> Status:
    """Download one document into `dest`, resuming a kept `.part`; returns "downloaded" or "resumed"."""
    assert info.download_url is not None
    url = info.download_url
    part = part_path(dest)
    offset = part.stat().st_size if part.is_file() else 0
    if info.size is not None and offset > info.size:
        part.unlink()  # longer than the whole file: not ours to resume
        offset = 0
    resumed = offset > 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 416 and offset:
                # The .part already holds every byte (or is junk): check it below / start over.
                if info.size is None or offset != info.size:
                    part.unlink()
                    return download(client, info, dest, progress)
            elif response.status_code >= 400:
                raise FetchError(
                    f"{info.file} をダウンロードできません: HTTP {response.status_code}（{url}）。"
                    "配布元のページで最新の PDF の URL を確かめ、"
                    "manifest.yaml の download_url を直してください。"
                )
            else:
                if response.status_code == 206 and _range_start(response) != offset:
                    raise FetchError(f"{info.file}: サーバーが要求と違う範囲を返しました（{url}）。")
                if response.status_code != 206:
                    offset, resumed = 0, False  # the server ignored Range: start from the beginning
                total = _total_from(response, offset)
                done = offset
                with part.open("ab" if offset else "wb") as fh:
                    if progress:
                        progress(info.file, done, total)
                    for block in response.iter_bytes():
                        fh.write(block)
                        done += len(block)
                        if progress:
                            progress(info.file, done, total)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise OfflineError(_offline_message(url, exc)) from exc
    except (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.WriteError) as exc:
        kept = part.stat().st_size if part.is_file() else 0
        raise FetchError(
            f"{info.file} のダウンロードが途中で切れました（{kept:,} バイトまで受信、{type(exc).__name__}）。"
            "もう一度 `dxnavi corpus fetch` を実行すると続きから再開します。"
        ) from exc
    except httpx.HTTPError as exc:
        raise FetchError(
            f"{info.file} をダウンロードできません（{type(exc).__name__}: {exc}、{url}）。"
        ) from exc

    problem = verify(part, info)
    if problem is not None:
        part.unlink()  # a complete but wrong file: resuming it would not help
        raise FetchError(
            f"{info.file}: {problem}。配布元のファイルが更新された可能性があります。"
            "配布元のページで確かめ、manifest.yaml の sha256 / size を直してから、もう一度実行してください。"
        )
    os.replace(part, dest)
    return "resumed" if resumed else "downloaded"


def fetch_corpus(
    corpus_dir: Path,
    only: list[str] | None = None,
    force: bool = False,
    progress: ProgressHook | None = None,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    read_timeout: float = READ_TIMEOUT_S,
) -> list[FetchResult]:
    """Download every manifest document with a download_url that is missing or does not verify.

    Each failure is recorded and the next document is tried; when the host cannot be reached at all the
    remaining documents are marked failed without trying (fail fast offline).
    """
    docs = downloadable(corpus_dir, only)
    results: list[FetchResult] = []
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
    offline: str | None = None
    with httpx.Client(timeout=timeout, follow_redirects=True, headers={"User-Agent": USER_AGENT}) as client:
        for info in docs:
            dest = corpus_dir / info.file
            result = FetchResult(doc_id=info.id, file=info.file, status="failed", path=dest)
            results.append(result)
            if offline is not None:
                result.reason = "接続できないため試していません。"
                continue
            if dest.is_file() and not force:
                problem = verify(dest, info)
                if problem is None:
                    result.status, result.bytes = "present", dest.stat().st_size
                    continue
                log.warning("%s does not verify (%s); downloading it again", dest, problem)
            try:
                result.status = download(client, info, dest, progress)
                result.bytes = dest.stat().st_size
            except OfflineError as exc:
                offline = result.reason = exc.message
            except FetchError as exc:
                result.reason = exc.message
                log.warning("fetch of %s failed: %s", info.file, exc.message)
    return results
