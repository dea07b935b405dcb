"""`dxnavi ask` as evaluators and scripts call it: a real subprocess on the session's built index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.schemas import ChatResponse
from tests.conftest import BuiltIndex

pytestmark = pytest.mark.slow

RunAsk = Callable[..., subprocess.CompletedProcess[str]]


def dxnavi_command() -> list[str]:
    script = Path(sys.executable).with_name("dxnavi")
    return [str(script)] if script.is_file() else [sys.executable, "-c", "from dxnavi.cli import app; app()"]


@pytest.fixture
def run_ask(built_index: BuiltIndex, tmp_path: Path) -> RunAsk:
    """Run `dxnavi ask …` against the built index (read-only: nothing is ingested again)."""
    env = {
        **os.environ,
        "DXNAVI_DATA_DIR": str(built_index.settings.data_dir),
        "DXNAVI_CORPUS_DIR": str(built_index.settings.corpus_dir),
        "COLUMNS": "200",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*dxnavi_command(), "ask", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=300,
        )

    return run


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_json_prints_one_response_object(run_ask: RunAsk) -> None:
    result = run_ask("--json", "DX認定を取ると融資の利率は？")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    response = ChatResponse.model_validate_json(lines[0])
    assert response.intent == "fact" and "1.30%" in response.answer
    assert response.citations and response.retrieved and response.mode == "extractive"


def test_plain_answer_is_printed_with_its_sources(run_ask: RunAsk) -> None:
    result = run_ask("DXって何から始めればいいですか？")
    assert result.returncode == 0, result.stderr
    assert "最初の一歩" in result.stdout
    assert "相談先" in result.stdout and "[1]" in result.stdout


def test_batch_prints_one_response_per_line_with_its_id(run_ask: RunAsk, tmp_path: Path) -> None:
    questions = {
        "q-start": "DXって何から始めればいいですか？",
        "q-rate": "DX認定を取ると融資の利率は？",
        "q-weather": "明日の東京の天気は？",
    }
    batch = write_jsonl(
        tmp_path / "questions.jsonl",
        [
            json.dumps({"id": k, "question": v, "category": "x"}, ensure_ascii=False)
            for k, v in questions.items()
        ],
    )
    result = run_ask("--batch", str(batch), "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["id"] for r in rows] == list(questions)
    responses = {
        r["id"]: ChatResponse.model_validate({k: v for k, v in r.items() if k != "id"}) for r in rows
    }
    assert responses["q-start"].intent == "start"
    assert "1.30%" in responses["q-rate"].answer
    assert responses["q-weather"].refused


def test_malformed_batch_line_is_a_japanese_error_with_a_nonzero_exit(
    run_ask: RunAsk, tmp_path: Path
) -> None:
    batch = write_jsonl(
        tmp_path / "broken.jsonl",
        [
            json.dumps({"id": "ok", "question": "DX認定のメリットは？"}, ensure_ascii=False),
            '{"id": "no-question"}',
        ],
    )
    result = run_ask("--batch", str(batch), "--json")
    assert result.returncode != 0
    assert "2 行目が読めません" in result.stderr and "question" in result.stderr
    assert "Traceback" not in result.stderr


def test_ask_without_a_question_or_batch_is_an_error(run_ask: RunAsk) -> None:
    result = run_ask("--json")
    assert result.returncode != 0
    assert "質問を1つ指定するか、--batch" in result.stderr
    assert result.stdout.strip() == ""


def test_missing_batch_file_is_a_japanese_error(run_ask: RunAsk, tmp_path: Path) -> None:
    result = run_ask("--batch", str(tmp_path / "nothing.jsonl"), "--json")
    assert result.returncode != 0
    assert "ファイルが見つかりません" in result.stderr
