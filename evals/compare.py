"""`dxnavi eval --compare OLD NEW`: metric deltas between two runs, with regressions flagged."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.metrics import HEADLINE, JUDGE_METRICS, LOWER_IS_BETTER
from evals.report import METRIC_LABELS, SYSTEM_LABELS, fmt
from ground.errors import ConfigError

COMPARED = (*HEADLINE, *JUDGE_METRICS)
# Answer length has no better direction: its change is shown, never flagged.
NEUTRAL = frozenset({"answer_chars"})


@dataclass(frozen=True)
class Delta:
    system: str
    split: str
    scope: str  # "overall" or a category
    metric: str
    old: float | None
    new: float | None
    regression: bool

    @property
    def change(self) -> float | None:
        return None if self.old is None or self.new is None else self.new - self.old


def load_metrics(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        raise ConfigError(
            f"{run_dir} に metrics.json がありません。`dxnavi eval` の出力フォルダを指定してください。"
        )
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} を読めません（{exc.msg}）。") from None
    return data


def is_regression(
    metric: str, old: float | None, new: float | None, tolerance: float, latency_tolerance: float
) -> bool:
    """Worse by more than the tolerance (absolute for scores, relative for latency); a lost value is worse."""
    if metric in NEUTRAL or old is None:
        return False
    if new is None:
        return True
    if metric in LOWER_IS_BETTER:
        return new > old * (1 + latency_tolerance) and new - old > 1.0
    return old - new > tolerance


def compare_metrics(
    old: dict[str, Any], new: dict[str, Any], tolerance: float = 0.01, latency_tolerance: float = 0.2
) -> list[Delta]:
    """Deltas for every system, split and scope both runs have. Only 'overall' rows can be regressions;
    per-category rows (few items each) are shown for diagnosis."""
    out: list[Delta] = []
    for system in ("ours", "baseline"):
        if system not in old.get("systems", {}) or system not in new.get("systems", {}):
            continue
        for split in ("tune", "heldout", "all"):
            before, after = old["systems"][system].get(split), new["systems"][system].get(split)
            if before is None or after is None:
                continue
            scopes = [("overall", before["overall"], after["overall"])]
            scopes += [
                (c, before["by_category"][c], after["by_category"][c])
                for c in after["by_category"]
                if c in before["by_category"]
            ]
            for scope, b, a in scopes:
                for metric in COMPARED:
                    if metric not in b and metric not in a:
                        continue
                    ov, nv = b.get(metric), a.get(metric)
                    flagged = scope == "overall" and is_regression(
                        metric, ov, nv, tolerance, latency_tolerance
                    )
                    out.append(Delta(system, split, scope, metric, ov, nv, flagged))
    return out


def _signed(delta: Delta) -> str:
    change = delta.change
    if change is None:
        return "—"
    return ("+" if change >= 0 else "") + fmt(change, delta.metric)


def render_markdown(
    old_dir: Path, new_dir: Path, deltas: list[Delta], old: dict[str, Any], new: dict[str, Any]
) -> str:
    regressions = [d for d in deltas if d.regression]
    lines = [
        "# DXナビ 評価の比較",
        "",
        f"- 旧: `{old_dir}`（{old.get('created')}）",
        f"- 新: `{new_dir}`（{new.get('created')}）",
    ]
    if old.get("dataset") != new.get("dataset") or old.get("items") != new.get("items"):
        lines.append("- ⚠ データセットが異なります。差分は参考値です。")
    lines += ["", f"## 悪化（{len(regressions)} 件）", ""]
    lines += [
        f"- ▼ {SYSTEM_LABELS.get(d.system, d.system)} {d.split}: {METRIC_LABELS.get(d.metric, d.metric)}"
        f" {fmt(d.old, d.metric)} → {fmt(d.new, d.metric)}（{_signed(d)}）"
        for d in regressions
    ] or ["悪化した指標はありません。"]
    for scope_title, want_overall in (("全体", True), ("カテゴリ別", False)):
        lines += [
            "",
            f"## {scope_title}",
            "",
            "| システム | 分割 | 範囲 | 指標 | 旧 | 新 | 差 |",
            "|---|---|---|---|---|---|---|",
        ]
        for d in deltas:
            if (d.scope == "overall") != want_overall:
                continue
            mark = " ▼" if d.regression else ""
            system, metric = SYSTEM_LABELS.get(d.system, d.system), METRIC_LABELS.get(d.metric, d.metric)
            lines.append(
                f"| {system} | {d.split} | {d.scope} | {metric}"
                f" | {fmt(d.old, d.metric)} | {fmt(d.new, d.metric)} | {_signed(d)}{mark} |"
            )
    return "\n".join(lines) + "\n"


def compare_runs(
    old_dir: Path, new_dir: Path, tolerance: float = 0.01, latency_tolerance: float = 0.2
) -> tuple[list[Delta], Path]:
    """Compare two run folders and write NEW_DIR/compare.md; returns the deltas and the file written."""
    old, new = load_metrics(old_dir), load_metrics(new_dir)
    deltas = compare_metrics(old, new, tolerance, latency_tolerance)
    path = Path(new_dir) / "compare.md"
    path.write_text(render_markdown(Path(old_dir), Path(new_dir), deltas, old, new), encoding="utf-8")
    return deltas, path
