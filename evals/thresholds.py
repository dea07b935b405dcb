"""The quality gate: read evals/thresholds.yaml and check a run's metrics against it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evals.metrics import HEADLINE, JUDGE_METRICS
from ground.errors import ConfigError
from ground.yamlfile import read_yaml

DEFAULT_THRESHOLDS = Path(__file__).resolve().parent / "thresholds.yaml"
KNOWN_METRICS = frozenset({*HEADLINE, *JUDGE_METRICS})
# Metrics that are not shares between 0 and 1.
UNBOUNDED = frozenset({"answer_chars", "latency_p50_ms", "latency_p95_ms", "unused_citations"})


@dataclass(frozen=True)
class Thresholds:
    system: str
    split: str
    minimum: dict[str, float]
    maximum: dict[str, float]
    tolerance: float = 0.01
    latency_tolerance: float = 0.2


@dataclass(frozen=True)
class Failure:
    metric: str
    value: float | None
    bound: float
    kind: str  # "min" | "max"

    @property
    def message(self) -> str:
        sign = "≥" if self.kind == "min" else "≤"
        if self.value is None:
            return f"{self.metric}: 値を計算できませんでした（基準 {sign} {self.bound}）"
        return f"{self.metric} = {self.value:.4f}（基準 {sign} {self.bound}）を満たしていません"


def _bounds(data: Any, key: str, path: Path) -> dict[str, float]:
    raw = data.get(key) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: {key} は「指標名: 値」の組で書いてください。")
    out: dict[str, float] = {}
    for name, value in raw.items():
        if name not in KNOWN_METRICS:
            raise ConfigError(
                f"{path}: 指標 {name} はありません。使える指標: {', '.join(sorted(KNOWN_METRICS))}"
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: {key}.{name} には数値を書いてください（値: {value!r}）。")
        if name not in UNBOUNDED and not 0.0 <= value <= 1.0:
            raise ConfigError(f"{path}: {key}.{name} は 0〜1 の割合です（値: {value}）。")
        out[str(name)] = float(value)
    return out


def load_thresholds(path: Path = DEFAULT_THRESHOLDS) -> Thresholds:
    """Read a thresholds YAML file (`min:` / `max:` maps of metric → bound)."""
    if not path.is_file():
        raise ConfigError(f"しきい値ファイルが見つかりません: {path}。--thresholds で指定してください。")
    try:
        data = read_yaml(path) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"しきい値ファイルを読めません: {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"しきい値ファイルはキーと値の組で書いてください: {path}")
    split = data.get("split", "all")
    if split not in ("tune", "heldout", "all"):
        raise ConfigError(f"{path}: split は tune / heldout / all のどれかにしてください（値: {split}）。")
    return Thresholds(
        system=str(data.get("system", "ours")),
        split=split,
        minimum=_bounds(data, "min", path),
        maximum=_bounds(data, "max", path),
        tolerance=float(data.get("compare_tolerance", 0.01)),
        latency_tolerance=float(data.get("compare_latency_tolerance", 0.2)),
    )


def check(metrics: dict[str, Any], thresholds: Thresholds) -> list[Failure]:
    """Every bound the run misses (an undefined value misses too)."""
    try:
        overall = metrics["systems"][thresholds.system][thresholds.split]["overall"]
    except KeyError:
        raise ConfigError(
            f"評価結果にシステム {thresholds.system} / {thresholds.split} がありません。"
        ) from None
    failures = []
    for name, bound in thresholds.minimum.items():
        value = overall.get(name)
        if value is None or value < bound - 1e-9:
            failures.append(Failure(name, value, bound, "min"))
    for name, bound in thresholds.maximum.items():
        value = overall.get(name)
        if value is None or value > bound + 1e-9:
            failures.append(Failure(name, value, bound, "max"))
    return failures
