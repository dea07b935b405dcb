"""SIGKILL `dxnavi ingest` at ten or more points — while starting up, at random moments of embedding
(seeded, so a failure can be replayed), and while the new build is being written — and check after each
kill that the previous index is exactly what it was and still answers; then a normal ingest finishes."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.retrieve import SearchIndex
from ground.config import Settings, load_settings
from ingest.embed import Embedder
from tests.files import make_text_file
from tests.index_state import chroma_records, current_ids, current_pointer, ingest, partial_builds

pytestmark = pytest.mark.slow

SEED = 20261202
RANDOM_KILLS = 8  # besides the three named moments
SUBSIDY = (
    "IT導入補助金は、中小企業が会計ソフトや受発注システムを導入する費用の一部を補助する制度です。\n"
    "申請はIT導入支援事業者と共同で行います。補助率は導入する類型によって異なります。"
)
_PROGRESS = re.compile(r"埋め込み:\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)")


TOPICS = [
    "受発注",
    "在庫管理",
    "勤怠管理",
    "顧客管理",
    "会計処理",
    "請求書発行",
    "経費精算",
    "営業日報",
    "設備保全",
]


def large_document(sentences: int) -> str:
    """A generated report long enough that embedding it takes a few seconds."""
    return "\n".join(
        f"事例{i}：{TOPICS[i % len(TOPICS)]}の業務を見直し、第{i}工程にデジタルツールを導入した結果、"
        f"作業時間が{i % 40 + 5}%短縮された。"
        for i in range(sentences)
    )


def start_ingest(log: Path) -> subprocess.Popen[bytes]:
    """`dxnavi ingest` in a child process, with its progress bar going to `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", "from dxnavi.cli import app; app()", "ingest"],
            stdout=subprocess.DEVNULL,
            stderr=out,
            env=os.environ.copy(),
        )


def kill_when(proc: subprocess.Popen[bytes], ready: Callable[[float], bool], log: Path) -> None:
    """SIGKILL the child as soon as `ready(seconds since start)` holds; fail if it ended on its own first."""
    started = time.monotonic()
    while not ready(time.monotonic() - started):
        if proc.poll() is not None:
            pytest.fail(f"ingest ended (rc={proc.returncode}) before the kill point:\n{log.read_text()}")
        if time.monotonic() - started > 120:
            proc.kill()
            pytest.fail("the kill point never came")
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def embedded_share(log: Path) -> float:
    """How far the child's embedding progress bar has got (0.0 before it starts)."""
    found = _PROGRESS.findall(log.read_text(encoding="utf-8", errors="replace"))
    if not found:
        return 0.0
    done, total = found[-1]
    return int(done) / max(1, int(total))


def test_killed_ingest_leaves_the_previous_index_usable(
    data_dir: Path, tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    make_text_file(corpus / "subsidy.txt", SUBSIDY)
    monkeypatch.setenv("DXNAVI_CORPUS_DIR", str(corpus))
    # Short chunks keep embedding the generated report cheap while it still takes seconds.
    for name, value in {
        "CHUNK_TARGET_TOKENS": "50",
        "CHUNK_MAX_TOKENS": "80",
        "CHUNK_OVERLAP_SENTENCES": "0",
    }.items():
        monkeypatch.setenv(f"DXNAVI_{name}", value)
    settings: Settings = load_settings()
    ingest(settings, embedder)
    pointer, ids = current_pointer(settings), current_ids(settings)
    make_text_file(corpus / "large-report.txt", large_document(60))
    log = tmp_path / "ingest.log"

    rng = random.Random(SEED)
    kill_points: list[tuple[str, Callable[[float], bool]]] = [
        ("while starting up", lambda seconds: seconds >= 0.5),
        *(
            (f"at {share:.0%} of embedding", lambda _, share=share: embedded_share(log) >= share)
            for share in sorted(rng.uniform(0.0, 0.9) for _ in range(RANDOM_KILLS))
        ),
        ("while embedding", lambda _: "埋め込み:" in log.read_text(encoding="utf-8", errors="replace")),
        ("while writing the new build", lambda _: bool(partial_builds(settings))),
    ]
    assert len(kill_points) >= 10
    for moment, ready in kill_points:
        proc = start_ingest(log)
        kill_when(proc, ready, log)

        assert current_pointer(settings) == pointer, moment
        index = SearchIndex(settings, embedder)
        assert [c.chunk_id for c in index.chunks] == ids, moment
        assert index.search("IT導入補助金の申請", k=3), moment
        assert set(chroma_records(settings)) == set(ids), moment
    assert partial_builds(settings), "the last kill should have left a half-written build"

    report = ingest(settings, embedder)

    assert report.changed and current_pointer(settings) == report.build_id != pointer
    assert not partial_builds(settings)
    assert "large-report" in {
        h.chunk.doc_id for h in SearchIndex(settings, embedder).search("事例42 在庫管理", k=3)
    }
