"""Load and validate an eval gold set (JSON Lines); split it into tune / held-out items by a stable hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ground.errors import DxnaviError

Category = Literal["start", "agency", "clause", "fact", "region", "out_of_scope"]
Split = Literal["tune", "heldout"]
CATEGORIES: tuple[str, ...] = ("start", "agency", "clause", "fact", "region", "out_of_scope")
SPLITS: tuple[str, ...] = ("tune", "heldout", "all")
# Share of items (by id hash, in tenths) kept out of sight while tuning.
HELDOUT_TENTHS = 3
DATASETS = Path(__file__).resolve().parent / "datasets"


class DatasetError(DxnaviError):
    """An eval dataset file is missing or holds an invalid line."""

    exit_code = 2


class EvalItem(BaseModel):
    """One gold item, exactly the public schema (no extra keys, no type coercion)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: str
    category: Category
    question: str
    gold_evidence: list[str]
    key_facts: list[str]
    expected_agency: str | None
    answerable: bool

    @property
    def split(self) -> Split:
        return split_of(self.id)


def split_of(item_id: str) -> Split:
    """'heldout' for about 30% of ids, 'tune' for the rest; depends only on the id, never on the order."""
    digest = int(hashlib.sha1(item_id.encode("utf-8")).hexdigest(), 16)
    return "heldout" if digest % 10 < HELDOUT_TENTHS else "tune"


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(全体)"
        if error["type"] == "missing":
            parts.append(f"項目 {where} がありません")
        elif error["type"] == "extra_forbidden":
            parts.append(f"項目 {where} はスキーマにありません")
        else:
            parts.append(f"項目 {where} の値が不正です（{error['msg']}）")
    return "、".join(parts)


def parse_items(lines: list[str], source: str = "<dataset>") -> list[EvalItem]:
    """Parse JSON Lines text; blank lines are skipped, any bad line raises DatasetError naming it."""
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source} の {number} 行目"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(
                f"{where}が JSON として読めません（{exc.msg}）。"
                "1行に1つの JSON オブジェクトを書いてください。"
            ) from None
        if not isinstance(data, dict):
            raise DatasetError(
                f'{where}が JSON オブジェクトではありません。{{"id": ...}} の形で書いてください。'
            )
        try:
            item = EvalItem.model_validate(data)
        except ValidationError as exc:
            raise DatasetError(
                f"{where}がスキーマに合いません: {_describe(exc)}。"
                "id, category, question, gold_evidence, key_facts, expected_agency, answerable "
                "を書いてください。"
            ) from None
        if not item.id.strip() or not item.question.strip():
            raise DatasetError(f"{where}: id と question は空にできません。")
        if item.id in seen:
            raise DatasetError(
                f"{where}: id {item.id} が {seen[item.id]} 行目と重複しています。別の id にしてください。"
            )
        seen[item.id] = number
        items.append(item)
    if not items:
        raise DatasetError(f"{source} に項目が1つもありません。JSON Lines で質問を書いてください。")
    return items


def load_dataset(path: Path) -> list[EvalItem]:
    """Read and validate a JSON Lines gold set."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(
            f"評価データが見つかりません: {path}。--dataset で JSON Lines のファイルを指定してください。"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DatasetError(
            f"評価データを UTF-8 として読めません: {path}。UTF-8 で保存し直してください。"
        ) from None
    return parse_items(text.splitlines(), source=path.name)
