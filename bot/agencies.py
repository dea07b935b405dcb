"""Match an owner's need and region to the support agencies named in the guides, best first."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.catalog import Agency, agencies
from bot.route import find_regions
from ingest.normalize import nfkc

# Words that reveal what the owner needs (vocabulary of `needs` in agencies.yaml).
NEED_CUES: dict[str, str] = {
    "financing": r"融資|資金|お金|借入|借り入れ|利率|金利|保証|投資|設備投資|loan|financ",
    "system": r"システム|開発|ベンダー|導入|選定|基幹|ソフト|it化|パソコン|ネットワーク|system|software",
    "strategy": r"戦略|計画|ビジョン|経営|方針|将来|事業計画|strategy|plan",
    "security": r"セキュリティ|サイバー|ウイルス|情報漏え?い|ハッキング|不正アクセス|security",
    "subsidy": r"補助金|助成金|支援策|支援措置|subsid",
    "tools": r"saas|クラウド|ツール|アプリ|kintone|ノーコード|tool|app",
    "training": r"人材|研修|育成|教育|リスキリング|社員のスキル|人手|training",
    "regional": r"地域|地元|ラボ|region",
    "accounting": r"会計|税|経理|労務|勤怠|給与|社労士|税理士|accounting|tax",
    "data": r"データ|分析|新商品|新製品|新事業|販路|data",
    "general": r"何から|始め|相談|どこに|誰に|支援機関|窓口|where|who",
}


REGION_BASE = 10.0  # an agency of the owner's region (the lab of a listed city)


@dataclass(frozen=True)
class AgencyMatch:
    agency: Agency
    score: float
    needs: list[str]
    regions: list[str]
    keyword_hits: int = 0


def detect_needs(text: str) -> list[str]:
    text = nfkc(text).lower()
    return [need for need, pattern in NEED_CUES.items() if re.search(pattern, text)]


# Words that hold an agency's keyword without meaning the agency (「大学ノートに手書き」 is no university).
_NOT_AGENCY_WORDS = re.compile(r"大学ノート|学校給食|学校行事")


def match_agencies(text: str, limit: int = 3, first_step: bool = False) -> list[AgencyMatch]:
    """Rank agencies: names/keywords the owner used, needs they describe, and their region.

    With `first_step`, the owner asks where to start: the agencies for a first consultation lead.
    """
    lowered = _NOT_AGENCY_WORDS.sub("", nfkc(text).lower())
    needs = detect_needs(text)
    if first_step and "general" not in needs:
        needs.append("general")
    all_regions = [r for a in agencies() for r in a.regions]
    regions = find_regions(text, all_regions)
    results: list[AgencyMatch] = []
    for rank_prior, agency in enumerate(agencies()):
        value = 0.0
        hits = sum(1 for kw in agency.keywords if kw.lower() in lowered)
        value += 3.0 * hits
        for need in needs:
            if need in agency.needs:
                weight = 4.0 if first_step and need == "general" else 2.0
                value += weight / (1 + agency.needs.index(need))
        if regions and agency.regions:
            value += REGION_BASE
        # Catalog order is the guides' order of use: 金融機関 is the most used support agency.
        value += 1.0 / (1 + rank_prior)
        results.append(
            AgencyMatch(
                agency,
                value,
                [n for n in needs if n in agency.needs],
                regions if agency.regions else [],
                hits,
            )
        )
    results.sort(key=lambda m: m.score, reverse=True)
    return results[:limit]


def names_agency(lowered: str, names: list[str]) -> bool:
    """Does the (normalised, lower-case) text name the agency by one of its names (「大学に相談」,
    「業界団体」), not a person (「バイトの大学生」)?"""
    return any(re.search(re.escape(n) + "(?!生)", lowered) for n in names)
