"""One corpus file read, cleaned and split in a child process with limits, so that no file can stop ingest.

Reading runs native code on untrusted files (pypdf, the MeCab tokenizer): a file that crashes it
(SIGSEGV), exhausts memory or never finishes must be reported and skipped, and the other files indexed.
Each file is parsed in a forked child process, under a memory limit
(`DXNAVI_PARSE_MEMORY_MB` more than the process maps when it starts) and a time limit (`DXNAVI_PARSE_TIMEOUT_S`); the parent gets back plain data
(the chunks) or a Japanese reason.
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
import signal
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from ground.errors import LoadError
from ingest.load import load_document
from ingest.quarantine import quarantine
from ingest.split import Chunk, split_segment
from ingest.structure import segment_pages
from ingest.tokenize import tagger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileJob:
    """What the child needs to turn one file into chunks (the parent has chosen the document id)."""

    path: Path
    doc_id: str
    title: str | None  # from the manifest; None: the document's own title, else the file name
    chunking: dict[str, int]


@dataclass
class ParsedFile:
    sha256: str
    title: str
    pages: int
    chunks: list[Chunk]
    quarantined: list[str] = field(default_factory=list)  # 「p.3: …」 sentences addressed to an assistant


def parse_file(job: FileJob) -> ParsedFile:
    """Load, quarantine instruction-like sentences, find the structure and split (raises LoadError)."""
    doc = load_document(job.path)
    pages: list[tuple[int, str]] = []
    quarantined: list[str] = []
    for page in doc.pages:
        text, removed = quarantine(page.text)
        pages.append((page.number, text))
        quarantined += [f"p.{page.number}: {sentence}" for sentence in removed]
    title = job.title or doc.title_hint or job.path.stem
    # A passage repeated on one page (boilerplate, a copied table) gives the same chunk id twice: keep
    # the first, since Chroma refuses duplicate ids and a copy adds nothing to retrieval.
    chunks: dict[str, Chunk] = {}
    for segment in segment_pages(pages, doc.kind):
        for chunk in split_segment(segment, job.doc_id, title, **job.chunking):
            chunks.setdefault(chunk.chunk_id, chunk)
    return ParsedFile(doc.sha256, title, len(doc.pages), list(chunks.values()), quarantined)


@dataclass(frozen=True)
class Limits:
    memory_mb: float
    timeout_s: float


def parse_isolated(job: FileJob, limits: Limits) -> ParsedFile:
    """`parse_file` in a child process under `limits`; whatever goes wrong there is a LoadError here."""
    receive, send = _context().Pipe(duplex=False)
    child = _context().Process(target=_child, args=(job, limits, send), name=f"dxnavi-parse {job.path.name}")
    child.start()
    send.close()
    try:
        if not receive.poll(limits.timeout_s):
            child.kill()
            raise LoadError(
                f"読み込みが {limits.timeout_s:g} 秒で終わらないため、このファイルを飛ばしました: {job.path.name}。"
                "ファイルを分けるか、上限を DXNAVI_PARSE_TIMEOUT_S で変えてください。"
            )
        try:
            kind, payload = receive.recv()
        except (EOFError, OSError):  # the child died before it could answer
            child.join(5)
            raise LoadError(_died(job.path, child.exitcode, limits)) from None
    finally:
        receive.close()
        child.join(5)
        if child.is_alive():
            child.kill()
    if kind == "error":
        raise LoadError(payload)
    parsed: ParsedFile = payload
    return parsed


def _died(path: Path, exitcode: int | None, limits: Limits) -> str:
    how = (
        f"シグナル {signal.Signals(-exitcode).name}"
        if exitcode and exitcode < 0
        else f"終了コード {exitcode}"
    )
    return (
        f"読み込み中に処理が異常終了したため（{how}）、このファイルを飛ばしました: {path.name}。"
        f"壊れているか大きすぎる可能性があります（メモリ上限 {limits.memory_mb:g} MB、DXNAVI_PARSE_MEMORY_MB）。"
    )


def _child(job: FileJob, limits: Limits, send: Connection) -> None:
    tagger()  # the tokenizer maps its dictionary before the limit: the limit is for the file's data
    # On top of what the forked process already maps (the caller's libraries and data).
    limit = _mapped_bytes() + int(limits.memory_mb * 1024 * 1024)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        send.send(("ok", parse_file(job)))
    except LoadError as exc:
        send.send(("error", exc.message))
    except MemoryError:
        send.send(("error", _memory(job.path, limits)))
    except Exception as exc:  # a parser bug on a strange file: report it, never stop the ingest
        log.exception("parsing %s failed", job.path)
        send.send(("error", f"読み込めませんでした（内部エラー {type(exc).__name__}）: {job.path.name}。"))
    finally:
        send.close()


def _mapped_bytes() -> int:
    """This process's virtual size (Linux /proc; 0 elsewhere, where the limit is then absolute)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * resource.getpagesize()


def _memory(path: Path, limits: Limits) -> str:
    return (
        f"読み込みにメモリ上限（{limits.memory_mb:g} MB）を超えるため、このファイルを飛ばしました: {path.name}。"
        "ファイルを分けるか、上限を DXNAVI_PARSE_MEMORY_MB で変えてください。"
    )


def _context() -> multiprocessing.context.ForkContext:
    """Fork: the child starts at once with the parsers already loaded and runs nothing of the caller's
    (spawn and forkserver import the caller's main script again, which breaks scripts without a
    `__main__` guard). Ingest runs in a command-line process, where no other thread holds a lock the
    child needs; logging re-creates its locks in a forked child."""
    return multiprocessing.get_context("fork")
