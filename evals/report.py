"""report.md and a self-contained report.html (inline CSS, charts as base64 PNG) for one eval run."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evals.metrics import HEADLINE, JUDGE_METRICS
from ingest.normalize import compact

JAPANESE_FONT = Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf")
SPLITS = ("tune", "heldout", "all")
SPLIT_LABELS = {"tune": "調整用 (tune)", "heldout": "検証用 (heldout)", "all": "全体 (all)"}
SYSTEM_LABELS = {"ours": "DXナビ", "baseline": "ベースライン"}
METRIC_LABELS = {
    "recall@1": "Recall@1",
    "recall@3": "Recall@3",
    "recall@5": "Recall@5",
    "recall@10": "Recall@10",
    "mrr@10": "MRR@10",
    "ndcg@10": "nDCG@10",
    "key_fact_coverage": "キーファクト網羅率",
    "citation_validity": "引用の逐語一致率",
    "citation_support": "引用の根拠率",
    "agency_top1": "相談先 Top-1 正解率",
    "refusal_precision": "回答拒否の適合率",
    "refusal_recall": "回答拒否の再現率",
    "answer_chars": "回答の長さ（文字）",
    "grounded_sentence_rate": "文の裏付け率",
    "unused_citations": "使われない出典（件）",
    "repetition": "同じ文の繰り返し率",
    "followup_key_fact_coverage": "追質問のキーファクト網羅率",
    "followup_differs": "追質問で前と違う回答",
    "followup_agency_top1": "追質問の相談先 Top-1",
    "conversation_refusal_accuracy": "会話中の拒否判定の正解率",
    "stage_accuracy": "現在地（段階）の正解率",
    "latency_p50_ms": "応答時間 p50 (ms)",
    "latency_p95_ms": "応答時間 p95 (ms)",
    "faithfulness": "忠実性（LLM採点）",
    "answer_relevancy": "回答の関連性（LLM採点）",
}
CATEGORY_LABELS = {
    "start": "始め方",
    "agency": "相談先",
    "clause": "条項・指針",
    "fact": "事実・数値",
    "region": "地域",
    "out_of_scope": "対象外",
}
CATEGORY_METRICS = (
    "recall@5",
    "mrr@10",
    "key_fact_coverage",
    "citation_support",
    "agency_top1",
    "refusal_recall",
    "latency_p95_ms",
)
WORST_TITLE = "不正解の多い10問（DXナビ、tune のみ）"
NOTES = (
    "Recall@k は、上位 k 件に正解根拠（gold_evidence のいずれか）を含むチャンクが1つでもある質問の割合です。",
    "比較はすべて NFKC 正規化と空白除去のあとで行います（PDF の改行は影響しません）。",
    "引用の逐語一致率は、回答・相談先・段階推定に付いた引用文が"
    "コーパスにそのまま存在する割合です（1.0 必須）。",
    "ベースライン: RecursiveCharacterTextSplitter(500, overlap 50)、"
    "同じ埋め込みモデルによるベクトル検索の上位5件、"
    "回答は1位のチャンクそのまま、拒否なし、相談先なし（@10 の指標も5件で計算）。",
    "対象外（out_of_scope）の質問には検索の指標を計算しません。",
    "heldout（id のハッシュで約30%）は調整に使わない検証用です。不正解の一覧には tune の質問だけを載せます。",
)


def fmt(value: Any, metric: str = "") -> str:
    """A metric value for a table: '—' when undefined, ms and chars without decimals beyond one."""
    if value is None:
        return "—"
    if metric.endswith("_ms"):
        return f"{value:.1f}"
    if metric in ("answer_chars", "n", "errors", "unused_citations"):
        return f"{value:.0f}"
    return f"{value:.3f}"


def _systems(metrics: Mapping[str, Any]) -> list[str]:
    return [s for s in ("ours", "baseline") if s in metrics["systems"]]


def _headline_metrics(metrics: Mapping[str, Any]) -> list[str]:
    judge = [
        j
        for j in JUDGE_METRICS
        if any(j in metrics["systems"][s]["all"]["overall"] for s in _systems(metrics))
    ]
    return [*HEADLINE, *judge]


def headline_rows(metrics: Mapping[str, Any], narrow: bool = False) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the headline table: every metric × (split × system).
    `narrow` puts both systems in one cell per split ('ours / baseline'), for the terminal."""
    systems = _systems(metrics)

    def cells(name: str) -> list[str]:
        values = [
            [fmt(metrics["systems"][s][split]["overall"].get(name), name) for s in systems]
            for split in SPLITS
        ]
        return [" / ".join(v) for v in values] if narrow else [c for v in values for c in v]

    if narrow:
        header = ["指標", *SPLITS]
    else:
        header = ["指標"] + [f"{split}: {SYSTEM_LABELS[s]}" for split in SPLITS for s in systems]
    rows = [["件数 (n)", *cells("n")]]
    rows += [[METRIC_LABELS.get(name, name), *cells(name)] for name in _headline_metrics(metrics)]
    return header, rows


def category_rows(metrics: Mapping[str, Any], split: str = "all") -> tuple[list[str], list[list[str]]]:
    """Header and rows of the per-category table; cells read 'ours / baseline' when both ran."""
    systems = _systems(metrics)
    header = ["カテゴリ", "n"] + [METRIC_LABELS[name] for name in CATEGORY_METRICS]
    categories = list(metrics["systems"]["ours"][split]["by_category"])
    rows = []
    for category in categories:
        row = [f"{CATEGORY_LABELS.get(category, category)} ({category})"]
        row.append(fmt(metrics["systems"]["ours"][split]["by_category"][category]["n"], "n"))
        for name in CATEGORY_METRICS:
            cells = [
                fmt(metrics["systems"][s][split]["by_category"].get(category, {}).get(name), name)
                for s in systems
            ]
            row.append(" / ".join(cells))
        rows.append(row)
    return header, rows


def worst_items(records: Sequence[Mapping[str, Any]], n: int = 10) -> list[Mapping[str, Any]]:
    """The n lowest-quality items of our system, from the tune split only: held-out items are not shown,
    so nobody tunes to them (a dataset without tune items shows all)."""
    ours = [r for r in records if r["system"] == "ours"]
    ours = [r for r in ours if r["split"] == "tune"] or ours
    return sorted(ours, key=lambda r: (r["quality"], r["scores"].get("mrr@10") or 0.0, r["id"]))[:n]


def _fact_marks(record: Mapping[str, Any]) -> list[tuple[str, bool]]:
    answer = compact(record["answer"])
    return [(fact, compact(fact) in answer) for fact in record["key_facts"]]


def _item_scores_line(record: Mapping[str, Any]) -> str:
    s = record["scores"]
    parts = [f"品質 {record['quality']:.2f}"]
    for name, label in (
        ("recall@5", "R@5"),
        ("mrr@10", "MRR"),
        ("key_fact_coverage", "KF"),
        ("citation_support", "根拠"),
    ):
        if s.get(name) is not None:
            parts.append(f"{label} {s[name]:.2f}")
    parts.append(f"拒否 {'あり' if record['refused'] else 'なし'}")
    if record.get("expected_agency"):
        top = record["agencies"][0] if record["agencies"] else "なし"
        parts.append(f"相談先 期待「{record['expected_agency']}」／1位「{top}」")
    if record.get("error"):
        parts.append(f"エラー: {record['error']}")
    return "・".join(parts)


# --- markdown ------------------------------------------------------------------------------------------


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    return "\n".join([line(header), "|" + "|".join("---" for _ in header) + "|", *(line(r) for r in rows)])


def render_markdown(metrics: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> str:
    """The whole report as Markdown."""
    out = [
        "# DXナビ 評価レポート",
        "",
        f"- 実行日時: {metrics['created']}",
        f"- データセット: `{metrics['dataset']}`（{metrics['items']} 問: tune {metrics['splits']['tune']}"
        f" / heldout {metrics['splits']['heldout']}）",
        f"- 埋め込み: {metrics['config']['embedding_engine']} / {metrics['config']['embedding_model']}"
        f"・LLM: {metrics['config']['llm_backend']}・所要 {metrics['seconds']} 秒",
        "",
        "## 主要指標",
        "",
        _md_table(*headline_rows(metrics)),
        "",
        "## カテゴリ別（全体、" + " / ".join(SYSTEM_LABELS[s] for s in _systems(metrics)) + "）",
        "",
        _md_table(*category_rows(metrics)),
        "",
        "## " + WORST_TITLE,
        "",
    ]
    for r in worst_items(records):
        out += [
            f"### {r['id']}（{CATEGORY_LABELS.get(r['category'], r['category'])}・{r['split']}）",
            "",
            f"- スコア: {_item_scores_line(r)}",
            f"- 質問: {r['question']}",
            "- 正解根拠: "
            + (" ／ ".join(f"「{g}」" for g in r["gold_evidence"]) or "（なし・回答拒否が正解）"),
            "- キーファクト: "
            + (" ／ ".join(f"{'✓' if ok else '✗'} {f}" for f, ok in _fact_marks(r)) or "（なし）"),
            "",
            "回答:",
            "",
            "\n".join(f"> {line}" for line in r["answer"].splitlines() or [""]),
            "",
        ]
    out += ["## 注記", "", *(f"- {note}" for note in NOTES), ""]
    return "\n".join(out)


# --- charts ----------------------------------------------------------------------------------------------


def japanese_font_name() -> str | None:
    """Register the IPA Gothic font with matplotlib and return its family name, or None when absent."""
    if not JAPANESE_FONT.is_file():
        return None
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(JAPANESE_FONT))
    return str(font_manager.FontProperties(fname=str(JAPANESE_FONT)).get_name())


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def category_chart(metrics: Mapping[str, Any], metric: str, japanese: bool) -> str | None:
    """Grouped bars per category (ours vs baseline) for one metric, as base64 PNG; None without data."""
    from matplotlib.figure import Figure

    systems = _systems(metrics)
    by_cat = metrics["systems"]["ours"]["all"]["by_category"]
    categories = [c for c in by_cat if by_cat[c].get(metric) is not None]
    if not categories:
        return None
    fig = Figure(figsize=(7.5, 3.4))
    ax = fig.add_subplot()
    width = 0.8 / len(systems)
    colors = {"ours": "#2563eb", "baseline": "#9ca3af"}
    for i, system in enumerate(systems):
        values = [
            metrics["systems"][system]["all"]["by_category"].get(c, {}).get(metric) or 0.0 for c in categories
        ]
        xs = [x + (i - (len(systems) - 1) / 2) * width for x in range(len(categories))]
        label = SYSTEM_LABELS[system] if japanese else system
        bars = ax.bar(xs, values, width=width, label=label, color=colors[system])
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7, padding=1)
    ax.set_xticks(range(len(categories)))
    ax.set_xticklabels([CATEGORY_LABELS.get(c, c) if japanese else c for c in categories])
    ax.set_ylim(0, 1.12)
    title = METRIC_LABELS.get(metric, metric) if japanese else metric
    ax.set_title(f"{title}（カテゴリ別）" if japanese else f"{title} by category")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def latency_chart(records: Sequence[Mapping[str, Any]], japanese: bool) -> str | None:
    """Histogram of per-question latency (ms) for each system, as base64 PNG."""
    from matplotlib.figure import Figure

    systems = [s for s in ("ours", "baseline") if any(r["system"] == s for r in records)]
    if not systems:
        return None
    fig = Figure(figsize=(7.5, 3.2))
    ax = fig.add_subplot()
    colors = {"ours": "#2563eb", "baseline": "#9ca3af"}
    for system in systems:
        values = [r["latency_ms"] for r in records if r["system"] == system]
        ax.hist(
            values,
            bins=30,
            alpha=0.6,
            color=colors[system],
            label=SYSTEM_LABELS[system] if japanese else system,
        )
    ax.set_xlabel("応答時間 (ms)" if japanese else "latency (ms)")
    ax.set_ylabel("質問数" if japanese else "questions")
    ax.set_title("1問あたりの応答時間" if japanese else "Latency per question")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def charts(metrics: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(alt text, base64 PNG) for every chart; Japanese labels only when a Japanese font is installed."""
    from matplotlib import rc_context

    font = japanese_font_name()
    japanese = font is not None
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    out: list[tuple[str, str]] = []
    with rc_context({"font.family": families}):
        for metric in ("recall@5", "key_fact_coverage"):
            png = category_chart(metrics, metric, japanese)
            if png:
                out.append((f"{METRIC_LABELS[metric]}（カテゴリ別）", png))
        png = latency_chart(records, japanese)
        if png:
            out.append(("応答時間のヒストグラム", png))
    return out


# --- html ------------------------------------------------------------------------------------------------

CSS = """
body{font-family:"IPAGothic","Hiragino Sans","Noto Sans JP","Yu Gothic",sans-serif;
margin:2rem auto;max-width:1200px;color:#1f2937;line-height:1.6;padding:0 1rem}
h1{font-size:1.6rem;border-bottom:3px solid #2563eb;padding-bottom:.3rem}
h2{font-size:1.25rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.8rem 0;font-size:.9rem}
th,td{border:1px solid #d1d5db;padding:.3rem .6rem}
th{background:#eff6ff;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.meta{color:#4b5563;font-size:.9rem}.charts{display:flex;flex-wrap:wrap;gap:.8rem}
.charts img{max-width:100%;width:580px;border:1px solid #e5e7eb}
.worst td{vertical-align:top;width:33%}
.worst pre{white-space:pre-wrap;margin:0;font-family:inherit;max-height:22rem;overflow:auto}
.ok{color:#15803d}.ng{color:#b91c1c}.scores{font-size:.85rem;color:#374151}
"""


def _html_table(header: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{html.escape(c)}</td>' if i >= numeric_from else f"<td>{html.escape(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _worst_html(records: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for r in worst_items(records):
        gold = (
            "".join(f"<li>{html.escape(g)}</li>" for g in r["gold_evidence"])
            or "<li>（なし・回答拒否が正解）</li>"
        )
        facts = "".join(
            f'<li class="{"ok" if ok else "ng"}">{"✓" if ok else "✗"} {html.escape(f)}</li>'
            for f, ok in _fact_marks(r)
        )
        category = CATEGORY_LABELS.get(r["category"], r["category"])
        facts = facts or "<li>（なし）</li>"
        rows.append(
            "<tr>"
            f"<td><b>{html.escape(r['id'])}</b>（{html.escape(category)}・{html.escape(r['split'])}）"
            f"<br>{html.escape(r['question'])}"
            f'<div class="scores">{html.escape(_item_scores_line(r))}</div></td>'
            f"<td><pre>{html.escape(r['answer'])}</pre></td>"
            f"<td><b>正解根拠</b><ul>{gold}</ul><b>キーファクト</b><ul>{facts}</ul></td>"
            "</tr>"
        )
    head = "<tr><th>質問</th><th>回答（DXナビ）</th><th>正解根拠とキーファクト</th></tr>"
    return f'<table class="worst"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def render_html(metrics: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> str:
    """The whole report as one HTML file with inline CSS and embedded PNG charts."""
    e = html.escape
    cfg = metrics["config"]
    images = "".join(
        f'<img alt="{e(alt)}" src="data:image/png;base64,{png}">' for alt, png in charts(metrics, records)
    )
    systems = " / ".join(SYSTEM_LABELS[s] for s in _systems(metrics))
    return f"""<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>DXナビ 評価レポート {e(metrics["created"])}</title>
<style>{CSS}</style></head><body>
<h1>DXナビ 評価レポート</h1>
<p class="meta">実行日時 {e(metrics["created"])}・データセット {e(metrics["dataset"])}（{metrics["items"]} 問:
tune {metrics["splits"]["tune"]} / heldout {metrics["splits"]["heldout"]}）<br>
埋め込み {e(cfg["embedding_engine"])} / {e(cfg["embedding_model"])}・LLM {e(cfg["llm_backend"])}・
索引 {e(str(cfg.get("index_build")))}・所要 {metrics["seconds"]} 秒</p>
<h2>主要指標</h2>
{_html_table(*headline_rows(metrics))}
<h2>カテゴリ別（全体、{e(systems)}）</h2>
{_html_table(*category_rows(metrics))}
<h2>グラフ</h2>
<div class="charts">{images}</div>
<h2>{e(WORST_TITLE)}</h2>
{_worst_html(records)}
<h2>注記</h2>
<ul>{"".join(f"<li>{e(n)}</li>" for n in NOTES)}</ul>
</body></html>
"""


def write_reports(run_dir: Path, metrics: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> None:
    """Write report.md and report.html into the run folder."""
    (run_dir / "report.md").write_text(render_markdown(metrics, records), encoding="utf-8")
    (run_dir / "report.html").write_text(render_html(metrics, records), encoding="utf-8")
