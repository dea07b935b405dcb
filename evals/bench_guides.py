"""`dxnavi bench-guides`: how long ingest takes for the full guides, measured on generated guide-shaped PDFs
(evals.guidepdf) of 30, 80 and 120 pages, each ingested cold into an empty data folder, then all of them
with the bundled overview. Prints a table; `--load N` keeps N CPU-burning processes running meanwhile."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evals.bench import cpu_load
from evals.guidepdf import write_guide
from ground.config import Settings
from ingest.embed import embedder_from_settings
from ingest.pipeline import run_ingest

SIZES = (30, 80, 120)


@dataclass
class GuideIngest:
    label: str
    pages: int
    chunks: int
    texts_embedded: int
    read_s: float
    embed_s: float
    write_s: float
    total_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ingest(settings: Settings, corpus: Path, data: Path, label: str) -> GuideIngest:
    run = settings.model_copy(update={"corpus_dir": corpus, "data_dir": data})
    report = run_ingest(run, lambda: embedder_from_settings(run), progress=False)
    stages = report.stage_seconds
    return GuideIngest(
        label=label,
        pages=report.pages,
        chunks=report.chunks,
        texts_embedded=report.texts_embedded,
        read_s=stages.get("read", 0.0),
        embed_s=stages.get("embed", 0.0),
        write_s=stages.get("write", 0.0),
        total_s=report.seconds,
    )


def bench_guides(settings: Settings, sizes: Sequence[int] = SIZES, load: int = 0) -> list[GuideIngest]:
    """Cold ingest of one generated guide per size, then of all of them beside the bundled corpus."""
    rows: list[GuideIngest] = []
    with tempfile.TemporaryDirectory(prefix="dxnavi-bench-guides-") as tmp, cpu_load(load):
        root = Path(tmp)
        everything = root / "all"
        shutil.copytree(settings.corpus_dir, everything)
        for pages in sizes:
            corpus = root / f"corpus-{pages}"
            corpus.mkdir()
            write_guide(corpus / f"guide-{pages}.pdf", pages=pages)
            shutil.copy(corpus / f"guide-{pages}.pdf", everything)
            rows.append(_ingest(settings, corpus, root / f"data-{pages}", f"{pages} ページ"))
        rows.append(_ingest(settings, everything, root / "data-all", "全部＋同梱資料"))
    return rows
