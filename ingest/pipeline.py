"""`dxnavi ingest`: corpus files → load → normalize/structure → split → embed → Chroma + BM25 build."""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from tqdm import tqdm

from ground.errors import DxnaviError, IngestError, LoadError
from ingest import index as idx
from ingest.isolate import FileJob, Limits, parse_isolated
from ingest.load import SUPPORTED_SUFFIXES, sha256_of
from ingest.manifest import LOCK_NAME, MANIFEST_NAME, DocumentInfo, doc_id_for, load_manifest
from ingest.split import Chunk, sentence_texts
from ingest.store import collection_name, drop_collections, get_collection, open_client, write_collection
from ingest.tokenize import search_tokens

if TYPE_CHECKING:
    from ground.config import Settings
    from ingest.embed import Embedder

log = logging.getLogger(__name__)

TOKEN_FORM: Literal["surface", "base"] = "base"
Status = Literal["indexed", "unchanged", "skipped"]


@dataclass
class FileResult:
    path: Path
    status: Status
    doc_id: str | None = None
    title: str | None = None
    pages: int = 0
    chunks: int = 0
    reason: str | None = None
    quarantined: list[str] = field(default_factory=list)  # 「p.3: …」 sentences addressed to an assistant


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)
    build_id: str | None = None
    changed: bool = False
    chunks: int = 0
    pages: int = 0
    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0
    texts_embedded: int = 0  # chunks and sentences embedded in this run (others reused)
    # Where the time went: reading (load, clean, split), embedding, writing (BM25, Chroma, files).
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def embeddings_per_second(self) -> float | None:
        embed = self.stage_seconds.get("embed", 0.0)
        return self.texts_embedded / embed if self.texts_embedded and embed > 0 else None

    @property
    def indexed_files(self) -> int:
        return sum(1 for f in self.files if f.status != "skipped")


def chunking_params(settings: Settings) -> dict[str, int]:
    return {
        "target_tokens": settings.chunk_target_tokens,
        "max_tokens": settings.chunk_max_tokens,
        "overlap": settings.chunk_overlap_sentences,
    }


def discover(corpus_dir: Path, extra: list[Path]) -> list[Path]:
    """Every file in the corpus folder (recursively) plus explicitly given files/folders."""
    found: list[Path] = []
    for root in [corpus_dir, *extra]:
        if root.is_file():
            found.append(root.resolve())
        elif root.is_dir():
            for p in sorted(root.rglob("*")):
                if any(part.startswith(".") for part in p.relative_to(root).parts):
                    continue
                if p.is_file():
                    found.append(p.resolve())
                elif p.is_symlink():  # a loop, a dangling link or a linked folder: reported by load
                    found.append(p.absolute())
    unique: dict[Path, None] = {}
    for path in found:
        if path.name not in (MANIFEST_NAME, LOCK_NAME):
            unique.setdefault(path, None)
    return list(unique)


def _mark_superseded(records: list[idx.FileRecord], manifest: dict[str, DocumentInfo]) -> None:
    """Point each indexed document that an indexed newer version supersedes at that version."""
    infos = {info.id: info for info in manifest.values()}
    indexed = {r.doc_id for r in records}
    newer = {
        old: new
        for new in indexed
        if new in infos
        for old in infos[new].supersedes
        if old in indexed and old != new
    }
    for record in records:
        record.superseded_by = newer.get(record.doc_id)


def _check_size(path: Path, max_mb: float) -> None:
    """Refuse a file over the size limit before reading it (memory stays bounded)."""
    try:
        size = path.stat().st_size
    except OSError:
        return  # load_document says why it cannot be read
    if size > max_mb * 1024 * 1024:
        raise LoadError(
            f"ファイルが大きすぎます（{size / 1024 / 1024:.0f} MB、上限 {max_mb:g} MB）: {path.name}。"
            "章ごとなどに分けて置くか、上限を DXNAVI_MAX_FILE_MB で変えてください。"
        )


@contextmanager
def ingest_lock(index_dir: Path) -> Iterator[None]:
    """One ingest at a time per index folder."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DxnaviError(
                "別の `dxnavi ingest` が実行中です。終わるのを待ってから、もう一度実行してください。"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def is_up_to_date(settings: Settings, extra: list[Path] | None = None) -> bool:
    """True when the current index was built from exactly these files with these settings."""
    meta = idx.read_current_meta(settings.index_dir)
    if meta is None or not _settings_match(meta, settings):
        return False
    if meta.manifest_sha256 != _manifestsha256_of(settings.corpus_dir):
        return False
    paths = discover(settings.corpus_dir, [*(Path(p) for p in meta.extra_paths), *(extra or [])])
    indexed = {f.path: f.sha256 for f in meta.files}
    candidates = [p for p in paths if p.suffix.lower() in SUPPORTED_SUFFIXES]
    current = {str(p): sha256_of(p) for p in candidates}
    # Skipped files (broken, duplicates) are not in meta.files but in the skipped list: unchanged, they
    # do not make the index stale.
    indexed_unchanged = all(current.get(path) == sha for path, sha in indexed.items())
    return indexed_unchanged and _skipped_unchanged(meta, current)


def _manifestsha256_of(corpus_dir: Path) -> str | None:
    path = corpus_dir / MANIFEST_NAME
    return sha256_of(path) if path.is_file() else None


def _skipped_unchanged(meta: idx.IndexMeta, current: dict[str, str]) -> bool:
    known = {f.path for f in meta.files} | set(meta.chunking.get("skipped", {}))
    skipped = meta.chunking.get("skipped", {})
    return all(
        path in known and (path not in skipped or skipped[path] == sha) for path, sha in current.items()
    )


def _collection_present(settings: Settings, meta: idx.IndexMeta) -> bool:
    """False when a Chroma server lost the build's collection (e.g. a new volume): then build again."""
    if settings.store != "server":
        return True
    from chromadb.errors import NotFoundError

    client = open_client(settings, idx.current_build_dir(settings.index_dir))
    try:
        get_collection(client, meta.collection)
    except NotFoundError:
        log.warning("collection %s is missing on the Chroma server; rebuilding", meta.collection)
        return False
    return True


def _settings_match(meta: idx.IndexMeta, settings: Settings) -> bool:
    params = {k: v for k, v in meta.chunking.items() if k != "skipped"}
    return (
        meta.engine == settings.embedding_engine
        and meta.model_id == settings.embedding_model
        and meta.store == settings.store
        and params == chunking_params(settings)
        and meta.token_form == TOKEN_FORM
    )


def run_ingest(
    settings: Settings,
    embedder_factory: Callable[[], Embedder],
    extra_paths: list[Path] | None = None,
    rebuild: bool = False,
    progress: bool = True,
) -> IngestReport:
    """Build a new index from the corpus, reusing embeddings of unchanged chunks, and switch it in."""
    started = time.perf_counter()
    with ingest_lock(settings.index_dir):
        report = _ingest_locked(settings, embedder_factory, extra_paths or [], rebuild, progress)
    report.seconds = time.perf_counter() - started
    return report


def _ingest_locked(
    settings: Settings,
    embedder_factory: Callable[[], Embedder],
    extra_paths: list[Path],
    rebuild: bool,
    progress: bool,
) -> IngestReport:
    index_dir = settings.index_dir
    previous = None if rebuild else idx.read_current_meta(index_dir)
    extra = sorted({str(p.resolve()) for p in extra_paths} | set(previous.extra_paths if previous else []))
    extra = [p for p in extra if Path(p).exists()]
    if (
        previous is not None
        and not rebuild
        and is_up_to_date(settings, [Path(p) for p in extra])
        and _collection_present(settings, previous)
    ):
        report = IngestReport(build_id=previous.build_id, changed=False, chunks=previous.chunk_count)
        for rec in previous.files:
            report.files.append(
                FileResult(Path(rec.path), "unchanged", rec.doc_id, rec.title, rec.pages, rec.chunks)
            )
        report.pages = sum(f.pages for f in report.files)
        idx.prune(index_dir)  # a killed earlier run may have left a partial build behind
        return report

    reading = time.perf_counter()
    manifest = load_manifest(settings.corpus_dir)
    manifest_sha256 = _manifestsha256_of(settings.corpus_dir)
    report = IngestReport(changed=True)
    chunks: list[Chunk] = []
    records: list[idx.FileRecord] = []
    skipped: dict[str, str] = {}
    seen_hashes: dict[str, Path] = {}
    seen_doc_ids: set[str] = set()
    limits = Limits(settings.parse_memory_mb, settings.parse_timeout_s)
    files = discover(settings.corpus_dir, [Path(p) for p in extra])
    for path in tqdm(files, desc="読み込み", unit="ファイル", disable=not progress or len(files) < 2):
        result = FileResult(path=path, status="skipped")
        report.files.append(result)
        info = manifest.get(path.name)
        doc_id = info.id if info else doc_id_for(path)
        while doc_id in seen_doc_ids:
            doc_id += "-2"
        try:
            _check_size(path, settings.max_file_mb)
            job = FileJob(path, doc_id, info.title if info else None, chunking_params(settings))
            parsed = parse_isolated(job, limits)
        except LoadError as exc:
            result.reason = exc.message
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                skipped[str(path)] = sha256_of(path)
            log.warning("skipped %s: %s", path, exc.message)
            continue
        if parsed.sha256 in seen_hashes:
            result.reason = (
                f"同じ内容のファイル {seen_hashes[parsed.sha256].name} があるため、重複として飛ばしました。"
            )
            skipped[str(path)] = parsed.sha256
            continue
        seen_hashes[parsed.sha256] = path
        result.quarantined = parsed.quarantined
        if result.quarantined:
            log.warning(
                "%s: %d sentences addressed to an assistant quarantined", path, len(result.quarantined)
            )
        if not parsed.chunks:
            result.reason = "本文を取り出せませんでした（テキストが空です）。"
            skipped[str(path)] = parsed.sha256
            continue
        seen_doc_ids.add(doc_id)
        chunks.extend(parsed.chunks)
        result.status, result.doc_id, result.title = "indexed", doc_id, parsed.title
        result.pages, result.chunks = parsed.pages, len(parsed.chunks)
        records.append(
            idx.FileRecord(
                path=str(path),
                doc_id=doc_id,
                title=parsed.title,
                sha256=parsed.sha256,
                pages=parsed.pages,
                chunks=len(parsed.chunks),
                url=info.url if info else None,
                quarantined=result.quarantined,
            )
        )
    _mark_superseded(records, manifest)
    if not chunks:
        # The CLI prints no summary table when it gets an error, so the reasons go into the message.
        reasons = "".join(f"\n- {f.path.name}: {f.reason}" for f in report.files)
        raise IngestError(
            f"索引に入れられる文書が1つもありませんでした（{len(report.files)} ファイル）。{reasons}\n"
            f"PDF・TXT・MD・HTML を {settings.corpus_dir} に置いてから、もう一度実行してください。"
        )

    embedding = time.perf_counter()
    report.stage_seconds["read"] = embedding - reading
    embedder = embedder_factory()
    embeddings, reused, sentences, sentence_vectors, report.texts_embedded = _embeddings_for(
        chunks, embedder, index_dir if not rebuild else None, progress
    )
    report.embedded, report.reused = len(chunks) - reused, reused
    writing = time.perf_counter()
    report.stage_seconds["embed"] = writing - embedding

    build_id = idx.new_build_id()
    staging = idx.staging_dir(index_dir, build_id)
    staging.mkdir(parents=True)
    name = collection_name(settings, build_id)
    meta = idx.IndexMeta(
        build_id=build_id,
        created=time.time(),
        engine=embedder.engine,
        model_id=embedder.model_id,
        dim=embedder.dim,
        store=settings.store,
        collection=name,
        chunking={**chunking_params(settings), "skipped": skipped},
        token_form=TOKEN_FORM,
        files=records,
        extra_paths=extra,
        chunk_count=len(chunks),
        manifest_sha256=manifest_sha256,
    )
    idx.write_chunks(staging, chunks, embeddings)
    idx.write_sentences(staging, sentences, sentence_vectors)
    _write_bm25(staging, chunks)
    client = open_client(settings, staging)
    write_collection(
        client,
        name,
        chunks,
        embeddings,
        {"engine": embedder.engine, "model_id": embedder.model_id, "dim": embedder.dim, "build_id": build_id},
    )
    idx.write_meta(staging, meta)  # meta.json last: a build without it is never read
    idx.publish(index_dir, staging, build_id)
    kept = idx.prune(index_dir)
    if settings.store == "server":
        drop_collections(client, settings.collection_prefix, {collection_name(settings, b) for b in kept})
    report.stage_seconds["write"] = time.perf_counter() - writing
    report.build_id = build_id
    report.chunks = len(chunks)
    report.pages = sum(r.pages for r in records)
    return report


def _previous_vectors(
    index_dir: Path | None, embedder: Embedder
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Chunk vectors (by chunk id) and sentence vectors (by text) of the current build, same model only."""
    chunks: dict[str, np.ndarray] = {}
    sentences: dict[str, np.ndarray] = {}
    if index_dir is None:
        return chunks, sentences
    meta = idx.read_current_meta(index_dir)
    if meta and meta.engine == embedder.engine and meta.model_id == embedder.model_id:
        build = idx.current_build_dir(index_dir)
        for chunk, vector in zip(idx.read_chunks(build), idx.read_embeddings(build), strict=True):
            chunks[chunk.chunk_id] = vector
        texts, vectors = idx.read_sentences(build)
        sentences = dict(zip(texts, vectors, strict=True))
    return chunks, sentences


def _embed_missing(
    keys: list[str],
    texts: list[str],
    cache: dict[str, np.ndarray],
    embedder: Embedder,
    bar: Any,
    batch: int = 16,
) -> tuple[np.ndarray, int]:
    """Vectors in `keys` order: taken from `cache` where present, embedded otherwise."""
    out = np.zeros((len(keys), embedder.dim), dtype=np.float32)
    todo = []
    for i, key in enumerate(keys):
        if key in cache:
            out[i] = cache[key]
        else:
            todo.append(i)
    for start in range(0, len(todo), batch):
        rows = todo[start : start + batch]
        out[rows] = embedder.embed_documents([texts[i] for i in rows])
        bar.update(len(rows))
    return out, len(keys) - len(todo)


def _embeddings_for(
    chunks: list[Chunk], embedder: Embedder, index_dir: Path | None, progress: bool
) -> tuple[np.ndarray, int, list[str], np.ndarray, int]:
    """Chunk vectors and sentence vectors, and how many texts were embedded; anything the last build
    embedded with this model is reused."""
    chunk_cache, sentence_cache = _previous_vectors(index_dir, embedder)
    sentences = sentence_texts(chunks)
    missing = sum(1 for c in chunks if c.chunk_id not in chunk_cache) + sum(
        1 for t in sentences if t not in sentence_cache
    )
    with tqdm(total=missing, desc="埋め込み", unit="文", disable=not progress or missing == 0) as bar:
        vectors, reused = _embed_missing(
            [c.chunk_id for c in chunks], [c.embed_text for c in chunks], chunk_cache, embedder, bar
        )
        # Sentences are short: bigger batches are faster per sentence.
        sentence_vectors, _ = _embed_missing(sentences, sentences, sentence_cache, embedder, bar, batch=64)
    return vectors, reused, sentences, sentence_vectors, missing


def _write_bm25(build_dir: Path, chunks: list[Chunk]) -> None:
    bm25s = idx.import_bm25s()
    retriever = bm25s.BM25()
    retriever.index([search_tokens(c.embed_text, TOKEN_FORM) for c in chunks], show_progress=False)
    retriever.save(str(build_dir / "bm25"))
