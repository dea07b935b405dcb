"""The sections of an answer, written from an advice card or the passages and cited as they are written:
現在地 (the stage), 相談先 (agencies: reason, what to tell them, what to bring), the card's body or a
detail of it, 資料の該当箇所 (verbatim passages), the extractive answer when no card fits, and an LLM's
verified body. `Advisor` decides what the answer is about; `SectionWriter` writes it."""

from __future__ import annotations

import hashlib
import logging
import re
from typing import TYPE_CHECKING, Any

from bot.agencies import AgencyMatch, names_agency
from bot.cards import Card, Claim
from bot.catalog import stages
from bot.clause_text import guide_clause_section
from bot.compose import (
    CitationBook,
    SentencePool,
    citation_for,
    near_duplicate,
    quote_line,
    select_sentences,
)
from bot.counsel import (
    FIGURES,
    MONEY,
    PILLAR,
    STATES_COST,
    WHAT_FOR_US,
    CardIndex,
    TurnState,
    acronyms,
    claim_text,
    cost_uncovered,
    uncovered,
    uncovered_part,
    wants_verbatim,
    without_procedure,
)
from bot.grounding import check_answer, content_words, tokens_of
from bot.question import (
    ASKS_CASE,
    ASKS_WHO,
    BUREAU_AREAS,
    HOW_MUCH,
    LISTED_IN,
    PLACE,
    TOWNS_IN,
    WANTS_FIGURE,
    WHAT_TO_DO,
    YES_NO,
    asked_part,
    asking_parts,
    asking_text,
    asks_fact,
    expansions_for,
    is_mostly_ascii,
    is_supporter,
    named_area,
    named_prefecture,
    prefecture_suffix,
)
from bot.retrieve import Hit, SearchIndex
from bot.route import find_regions
from bot.schemas import AgencyRecommendation, Citation, Intent, Message, StageEstimate
from bot.stage import StageMatch, planned_stage
from bot.verify import parse_markers, strip_markers
from ingest.normalize import compact, nfkc, sentences

if TYPE_CHECKING:
    from ground.config import Settings

log = logging.getLogger(__name__)

# How many quoted sentences each kind of answer carries (besides stage and agency lines).
LEAD_MARGIN = 2.0  # a card sentence leads the answer when it fits the question this many times better …
LEAD_MIN = 0.5  # … and shares at least this much of what the question asks beyond the topic's name
LEAD_ALONE_MIN = 0.25  # (this much, where the first sentence shares none of it)
SENTENCES: dict[str, int] = {"agency": 2, "clause": 4, "fact": 4}
# The advice card that gives each agency's reason and what to bring (quotes that name the agency).
AGENCY_CARDS: dict[str, str] = {
    "regional_bank": "agency-bank",
    "regional_it_vendor": "agency-it-vendor",
    "major_it_vendor": "agency-others",
    "consultant": "agency-consultant",
    "chamber": "agency-chamber",
    "professional": "agency-professional",
    "saas_vendor": "agency-saas",
    "public_body": "agency-others",
    "university": "agency-others",
    "industry_association": "agency-others",
    "regional_dx_lab": "regional-dx-lab",
}


# Agency cards that several kinds of agency share (agency-others: 大手ITベンダー, 大学, 業界団体…).
_SHARED_AGENCY_CARDS = frozenset(c for c in AGENCY_CARDS.values() if list(AGENCY_CARDS.values()).count(c) > 1)


# The owner's words for a piece of work that the guides' examples of each stage name (longest first):
# 「顧客」 alone is stage 3's 顧客管理 (stage 2's example is about the means of 連絡).
_WORK_WORDS = {
    2: ("連絡",),
    3: ("受発注", "発注", "在庫", "顧客", "営業"),
    4: ("新商品", "販路", "商品"),
}
# The chart line that names each stage and its number (「段階1（全くの未着手）：30.8%」).
_STAGE_LABEL_QUOTES: dict[int, str] = {
    1: "段階1（全くの未着手）",
    2: "段階2（デジタイゼーション）",
    3: "段階3（デジタライゼーション）",
    4: "段階4（DX）",
}
_STAGE_EN = {1: "no digitisation yet", 2: "digitisation", 3: "digitalisation", 4: "DX"}
# The two parts of a DGC pillar: its 柱となる考え方 (「企業は…」「経営者は…」) and its 望ましい方向性.
_CLAUSE_PART = {
    "principle": re.compile(r"柱となる考え方|考え方|principle"),
    "direction": re.compile(r"望ましい方向性|方向性|desirable|direction"),
}


# Words of a question that say nothing about what it asks (「その会社、…」).
_NAMES_NOTHING = frozenset(
    ["その", "この", "それ", "これ", "会社", "うち", "社長", "DX", "dx", "する", "ある", "いる", "なる"]
)


def _same_passage(quote: str, sentence: str) -> bool:
    """Does a card's quote hold a passage sentence, or the sentence the quote (spacing and width aside)?"""
    q, s = compact(quote), compact(sentence)
    return q in s or s in q or near_duplicate(quote, sentence)


def _claim_tokens(claim: Claim) -> frozenset[str]:
    """The words of a card sentence and of its quotes."""
    return tokens_of(claim.sentence) | {t for q in claim.cites for t in tokens_of(q)}


def _share(claim: Claim, weights: dict[str, float]) -> float:
    """The share of the (IDF-weighted) question words that a card sentence or its quotes contain."""
    words = _claim_tokens(claim)
    return sum(w for t, w in weights.items() if t in words) / (sum(weights.values()) or 1.0)


def _restates(claim: Claim, others: list[Claim]) -> bool:
    """Is every quote of `claim` inside a quote of another of `others` (it says nothing they do not)?"""
    quoted = [compact(q) for o in others if o is not claim for q in o.cites]
    return all(any(compact(q) in k for k in quoted) for q in claim.cites)


def _lists_places(text: str) -> bool:
    """「札幌市・函館市・…」: the guides' list of lab regions (or any list of five and more)."""
    return text.count("・") >= 5


_POLITE_END = re.compile(r"(です|ます|ました|ません|でした|でしょう)[。.]?$")


def _in_prose(claim: Claim, line: str, english: bool) -> str:
    """A card sentence in running polite text. A verbatim slide line in plain form (「…DX推進は企業価値向上に
    繋がる」) is framed as what the guides say — 「「…」とされています。」 — rather than dropped in as is; in any
    case it ends with a full stop, so that it does not run into the next sentence."""
    text = re.sub(r"(\[\d+\])+$", "", line)
    if english or claim.quote is None or _POLITE_END.search(text) or _lists_places(text):
        return _full_stop(line)  # (a list of places is no statement to frame)
    return f"「{text.rstrip('。')}」とされています。{line[len(text) :]}"


def _first_sentence(text: str, english: bool) -> str:
    """「段階1「…」と考えられます。[1][2]」 of a stage's reason (its first line in English)."""
    if english:
        return text.split("\n")[0]
    found = re.match(r"^.*?。(\[\d+\])*", text)
    return found.group(0) if found else text


def _full_stop(sentence: str) -> str:
    """「…繋がる[6]」→「…繋がる。[6]」: a sentence in running text ends with 。 before its markers."""
    text = re.sub(r"(\[\d+\])+$", "", sentence)
    markers = sentence[len(text) :]
    if text and not text.endswith(("。", "！", "？", ".", "!", "?", ")", "）")):
        text += "。"
    return text + markers


_EITHER_OR = re.compile(
    r"それとも|(なん|なの|の)ですか[、,][^。？?]{0,20}(なん|なの|の)ですか|or (is it|just)", re.IGNORECASE
)


def _as_body(lines: list[str], english: bool) -> str:
    """Answer sentences as one paragraph — in English one rendering per line, each with its own Japanese."""
    return "\n".join(f"- {line}" for line in lines) if english else "".join(lines)


def _clause_part(claim: Claim) -> str:
    return "principle" if re.match(r"(企業|経営者)は、", nfkc(claim.sentence)) else "direction"


# Case-study slides (後藤組, the support cases): quoted only when the question asks for an example.
CASE = re.compile(r"事例|後藤組|選定企業|DXセレクション2025")
PASSAGE_CHUNKS = 3  # a specific question may add verbatim sentences from the top passages …
# A where-to-start answer that first answers what else the opening asked: whether DX concerns a firm like
# theirs (why: relevance), whether such a firm can do it at all (feasible), whether DX helps with too few
# people (shortage) — that card's first sentences.
LEADS = {"relevance": ("why-dx", 1), "feasible": ("small-firm-can-do", 2), "shortage": ("staff-shortage", 2)}
PASSAGE_MIN_OVERLAP = 0.3  # … that share at least this much of its (IDF-weighted) words
REASON_CHOICES = 5  # an agency's reason is one of its card's first sentences …
EXAMPLE_ASKED = re.compile(r"PMO|連携|開発|運用|調達|導入|外注|任せ|システム|ツール")
REASON_NEAR = 0.3  # … any that fits at least 0.3 times as well as the best (varied from question to question)
ALSO_CLAIMS = 3  # the second card of a compound question gives at most this many sentences
AGREEING_SENTENCES = 2  # the search's best passage sentences a closest-sentence detail must quote one of
EXAMPLES_MIN_OVERLAP = 0.05  # asked for examples after the topic: its sentences sharing anything with it
DETAIL_RETRY_OVERLAP = 0.15  # … and when none shares that much, the one closest if it shares at least this
WHY_REASONS = 3  # 「なんで銀行が？」 about an agency: at most this many of its reasons
WHY_ASKED = re.compile(r"なんで|なぜ|何故|どうして|\bwhy\b", re.IGNORECASE)
DETAIL_CLAIMS = 2  # a follow-up on a detail gets at most this many of the card's sentences
FIGURE_BONUS = 0.5  # a card sentence with a number, for a follow-up that asks for one
COUNTED = re.compile(
    r"\d[\d,.]*\s*(名|人|社|団体|件|地域|%|％|円|倍|割|位|年|か月|ヶ月|月|日|時間)"
)  # not 「3.0」
STAGE_ASKED = re.compile(
    r"段階|(どの辺|どのへん|どのあたり)(?![をがにから])|レベル|現在地|stage|where (do|does) (we|i) stand",
    re.IGNORECASE,
)
# Asked again where the firm stands (not 「同じくらいの段階の会社は何割？」, which only names the stage).
OWN_STAGE_ASKED = re.compile(
    r"どの段階|何段階|段階(で|に)(いう|言う)と|段階(は|って|やと|だと)(どこ|何)|(どの辺|どのへん|どのあたり)(?![をがにから])|現在地|レベル"
    r"|段階\s*[1-4]|stage|where (do|does) (we|i) stand",
    re.IGNORECASE,
)
NAMED_STAGE = re.compile(r"段階\s*([1-4])|stage\s*([1-4])", re.IGNORECASE)
ALL_OF_IT = re.compile(
    r"(全部|すべて|全て|残らず)(を)?(教えて|知りたい|見せて|挙げて|出して|ください)|一覧|\ball of (it|them)\b",
    re.IGNORECASE,
)
ASKS_WHEN = re.compile(r"いつ|何年|何月|時期|when|what year", re.IGNORECASE)
# 「その会社ってどこの会社？」 asks for a name: a sentence that names a company or organisation answers it.
NAME_ASKED = re.compile(
    r"どこの(会社|企業|銀行|団体)|社名|会社名|企業名|名前|which (company|bank)|what company", re.I
)
NAMED_ORG = re.compile(r"株式会社|（株）|銀行|信用金庫|協議会|協会|組（|組\(")
DATED = re.compile(r"\d{4}年\d{1,2}月|\d{4}年(?!度)|令和\d+年")
SELECTED = "は地域DX推進ラボ選定地域です。"
# The rounds of lab selection: the mark after a place in the guides' list, and the line that dates it.
_ROUNDS = {
    "❶": ("1", "第１弾 2023年4月 31地域選定", "2023年4月", "April 2023"),
    "❷": ("2", "第２弾 2023年10月 ７地域選定", "2023年10月", "October 2023"),
    "❸": ("3", "第３弾 2024年10月 ５地域選定", "2024年10月", "October 2024"),
}
SELECTION_TABLE = (
    "「DXセレクション2025」企業一覧"  # the guides' table of selected companies (＃ 企業名 所在地)
)
# A conversation where the 後藤組 case speaks: about the selected firms, or a builder's (後藤組 is one).
CASE_CONTEXT = re.compile(
    r"後藤組|DXセレクション|グランプリ|選ばれた|選定された|建設|工務店|土木|協力業者|現場"
)
ACCOUNTANTS = re.compile(r"会計|税理士|経理|決算|帳簿|税務")
OTHER_PROFESSIONALS = re.compile(r"社会保険労務士|情報処理安全確保支援士")
# Asking how to reach an agency or what it charges (「直接電話してもよか？」), or which papers to bring.
_CONTACT = re.compile(r"電話|連絡先|窓口|直接|アポ|予約|相談料|費用|お金|無料|タダ")
_DOCUMENTS = re.compile(r"書類|決算書|手ぶら|資料を?(持|用意)|持って(い|行)?(く|け|っ)|持参")
# Which survey or statistics the figures come from, and a slide's own line naming it.
SURVEY_ASKED = re.compile(
    r"調査|統計|アンケート|出典|出所|出どころ|どこの(データ|数字)|survey|statistic", re.IGNORECASE
)
SOURCE_LINE = re.compile(r"^[（(]?(?:出典|出所)[）)]?[:：]?[^\n]+", re.MULTILINE)
BRING_ITEMS = 1  # what to bring, under an answer (the whole list when asked for it)
_NAMES_CASE = re.compile(r"後藤組|常陽銀行|長野県ITコーディネータ協議会")  # the cases the guides tell in full
AREA_EN = {
    "東北": "Tohoku",
    "関東": "Kanto",
    "中部": "Chubu",
    "近畿": "Kinki (Kansai)",
    "中国": "Chugoku",
    "四国": "Shikoku",
    "九州": "Kyushu",
}

LABELS: dict[str, dict[str, str]] = {
    "ja": {
        "notice": "",
        "bring": "### {name}に相談するときに伝えること・持っていくもの",
        "stage": "### 現在地",
        "answer": "### 回答",
        "steps": "### 次の一歩",
        "first_steps": "### 最初の一歩",
        "agencies": "### 相談先",
        "gap": "※ 資料に書かれていないこと: ",
        "yes": "はい。",
        "no": "いいえ。",
        "passages": "### 資料の該当箇所",
        "tell": "相談で話し合うこと:",
        "fallback": "",
        "others": "ほかの相談先:",
        "unanswered": "ご質問の点について、資料には直接の記述が見当たりませんでした。",
        "unanswered_more": "ご質問の点について、資料には先ほどお伝えした以上の記述が見当たりませんでした。",
        "advised": "この話題で資料が勧めていること:",
        "ask_next": "資料に沿ってお答えできるのは、たとえば次のようなことです:",
    },
    "en": {
        "notice": (
            "dxnavi reads Japanese government guides, so each sentence below is our English rendering "
            "followed by the Japanese it renders; the quoted sources are in Japanese."
        ),
        "bring": "### What to tell or bring to {name}",
        "stage": "### Where you stand",
        "answer": "### Answer",
        "steps": "### Next steps",
        "first_steps": "### First steps",
        "agencies": "### Whom to ask",
        "gap": "Not covered by the guides: ",
        "yes": "Yes. ",
        "no": "No. ",
        "passages": "### The passages themselves (Japanese)",
        "tell": "What to discuss with them:",
        "fallback": (
            "No prepared answer matches your question, so here are the passages of the guides (in Japanese) "
            "that relate to it."
        ),
        "others": "Others to ask:",
        "unanswered": "The guides say nothing directly on this point.",
        "unanswered_more": "The guides say nothing on this point beyond what I said above.",
        "advised": "What the guides advise on this topic:",
        "ask_next": "What the guides can answer next, for example:",
    },
}


NEGATIVE_QUESTION = re.compile(
    r"違う|ちゃう|ちゃいます|異なる|(ない|ません|なく|(?<!必)(?<!ま)(?<!先)ず|じゃ|では)[^。、]{0,6}[?？]|\b(isn't|aren't|don't|doesn't|can't|not)\b",
    re.I,
)
TERM_SHORT = 45  # a term's sentence shorter than this is shown with the sentence after it
TERM_PLACES = 3  # sentences (or lists) shown for a term the guides use
TERM_CONTEXT = 8  # characters besides the term that make a sentence worth quoting
TERM_ITEMS = 2  # list items quoted on each side of the one that names the term
_BULLET = re.compile(r"^\s*[•・➢■●◆▪︎-]\s*")


# A step that names a particular problem or practice (「間接業務の多忙や今後の人手不足…を共有する」) is for an
# owner who raised it; under any other question it reads as a template.
_PROBLEMS = {
    re.compile(r"間接業務|人手不足"): re.compile(
        # (「事務の子がExcelに打ち直しとる」 names a clerk, not a burden)
        r"間接|事務(作業|負担|仕事|処理|手続)|事務が|人手|人(が|も)(い|足|お|少な)|忙し|手が回ら|採用|人材不足"
        r"|バックオフィス|本業に|残業"
    ),
    # 「FAXから電子メールに切り替える」 is for an owner who still takes orders by fax (not a clinic booking by phone).
    re.compile(r"FAX"): re.compile(r"FAX|ファックス|ファクス|fax", re.IGNORECASE),
    # 「DX認定事業者である場合は…保証枠の拡大を活用する」 for an owner who spoke of certification or borrowing.
    re.compile(r"DX認定事業者である場合"): re.compile(r"認定|融資|借り|借入|保証|資金|設備投資|お金"),
}


# Asking for it in short (「3行くらいでまとめて」「簡単に」).
_IN_SHORT = re.compile(
    r"まとめ|要点|かみくだ|噛み砕|簡単に|短く|[0-9一二三]行|summar|in short|briefly", re.IGNORECASE
)
# Asking for examples or specifics (「具体的にどんな指標を？例をいくつか」).
EXAMPLES_ASKED = re.compile(r"例を|例は|例が|いくつか挙げ|具体的(に|な)")
# Asking for more than was said (「ほかに工夫の例があれば」「他には？」).
OTHERS_ASKED = re.compile(
    r"ほかに|他に|ほかの|他の(例|方法|工夫|手)|別の(例|方法|工夫|手)|other (ways|examples)"
)
# A place named in a question: a name and its suffix (「宇都宮市」「高知県」), not 「地域」 or 「市役所」.
NAMED_PLACE = re.compile(r"[一-龥ァ-ヶ]{1,5}[都道府県市区町村](?![役民場内外長議])")


def reads_alone(text: str) -> bool:
    """Does a corpus sentence say something by itself (not 「札幌市・函館市・…」, 「…より抜粋選定対象となる地域」 or
    an example complaint 「相談相手がいない...」)?"""
    return not (
        text.count("・") >= 5
        or "抜粋" in text
        or re.search(r"(\.\.\.|…)$", text.strip())
        or re.match(r"^[0-9０-９][^0-9０-９.,．，%％年月日件名社人万億千]", text)
        # 「…取組1地域の産学官金プロジェクト2地域支援機関等…」: a numbered list run together
        or len(re.findall(r"(?<![0-9.])[0-9](?=[一-龥ァ-ン])(?![年月日件名社人万億千位割倍回段弾])", text))
        >= 2
    )


SAID_SHARE = 0.75
SHARE = re.compile(r"\d+(\.\d+)?\s*[%％]")  # 「30.8%を占めています」: a figure, not 「段階3」


def _said_in(sentence: str, text: str) -> bool:
    """Does one sentence of the text say this one nearly: SAID_SHARE of its character pairs in it? (Not
    `near_duplicate`, which compares two sentences both ways: a short step inside a longer sentence is said.)"""
    said = compact(strip_markers(sentence))
    pairs = {said[i : i + 2] for i in range(len(said) - 1)}
    return bool(pairs) and any(
        sum(p in other for p in pairs) / len(pairs) >= SAID_SHARE
        for other in (compact(s) for s in sentences(strip_markers(text)))
    )


def raised(claim: Claim, context: str) -> bool:
    """Is every problem the step names one the conversation raised?"""
    return all(
        asked.search(nfkc(context)) for named, asked in _PROBLEMS.items() if named.search(claim.sentence)
    )


def said_any(card: Card, said: str, beyond: int = 0) -> bool:
    """Did the last answer give any (more than `beyond`) of the card's own answer sentences?"""
    heard = compact(strip_markers(said))
    # (an English answer gives each sentence's Japanese without its 「。」)
    return sum(compact(c.sentence.rstrip("。")) in heard for c in card.answer) > beyond


def unsaid_steps(card: Card, said: str, heard: str | None = None) -> list[Claim]:
    """The card's steps the last answer (`said`) did not give; with `heard` (what the user said), only those
    whose problems it raised."""
    given = compact(strip_markers(said))
    return [
        c
        for c in card.steps
        if (heard is None or raised(c, heard)) and not (given and compact(c.sentence) in given)
    ]


SOURCE_CLAIMS = 3  # 「どの資料に？」: the passages of the last answer's first three sentences
SOURCE_MIN_CHARS = 12


def _place(c: Citation, english: bool) -> str:
    """「経済産業省 …説明資料 スライド/ページ 6「…」」: where a quote is, as the sources list names it."""
    page = f" {'page' if english else 'スライド/ページ'} {c.page}" if c.page else ""
    return f"{c.title}{page}" + (f"「{c.heading}」" if c.heading else "")


class SectionWriter:
    """Writes an answer's sections with the advisor's sentence pool, cards and index (thread-safe: it
    keeps no state between answers)."""

    def __init__(
        self,
        settings: Settings,
        index: SearchIndex,
        pool: SentencePool,
        cards: CardIndex,
        regions: list[str],
    ) -> None:
        self.settings = settings
        self.index = index
        self.pool = pool
        self.cards = cards
        self.regions = regions
        agency_steps = [c.sentence for card in cards.cards if card.kind == "agency" for c in card.steps]
        self._shared_steps = {t for t in agency_steps if agency_steps.count(t) > 1}

    # ----------------------------------------------------------------------------------------
    def _cite_quote(self, book: CitationBook, quote: str, hits: list[Hit]) -> int | None:
        chunk = self.pool.find_chunk(quote, [h.chunk for h in hits])
        if chunk is None:
            log.warning("catalog quote not found in the index: %s", quote[:40])
            return None
        return book.cite(chunk, quote)

    def stage(
        self,
        match: StageMatch,
        book: CitationBook,
        hits: list[Hit],
        english: bool = False,
        situation: str = "",
    ) -> StageEstimate:
        """The stage in sentences its quotes support: the stage's example that matches the owner's words,
        the guides' description of the stage, and (given what the owner described, `situation`) a later
        stage's example of the same work. In English each sentence carries the Japanese it renders (that is
        what the grounding check reads), and the description stays a Japanese quote."""
        stage = match.stage
        label_quote = _STAGE_LABEL_QUOTES[stage.level]
        n_label = self._cite_quote(book, label_quote, hits)
        n_desc = self._cite_quote(book, stage.description_quote, hits)
        likeness = self.likeness(match, book, hits, english)
        further = self.ahead(stage.level, situation, book, hits, english)
        cited_example = [*(parse_markers(likeness)[1:] if likeness else ()), *parse_markers(further)]
        sentences = [x for x in (likeness, further) if x]

        def rendered(ja: str, en: str) -> str:
            return f"{en}（日本語: {ja.rstrip('。')}）" if english else ja

        if n_desc:
            desc = (
                f"「{stage.description_quote}」" if english else f"資料の説明: 「{stage.description_quote}」"
            )
            sentences.append(f"{desc}[{n_desc}]")
        ja = f"段階{stage.level}「{stage.label}」と考えられます。"
        en = f"You appear to be at stage {stage.level} ({_STAGE_EN[stage.level]})."
        head = rendered(ja, en) + "".join(f"[{n}]" for n in (n_label, n_desc) if n)
        reason = ("\n" if english else "").join([head, *sentences])
        cited = [n for n in (n_label, *cited_example, n_desc) if n]
        return StageEstimate(
            level=stage.level, label=stage.label, reason=reason, citations=[book.get(n) for n in cited]
        )

    def ahead(self, level: int, situation: str, book: CitationBook, hits: list[Hit], english: bool) -> str:
        """「ご説明の「発注」なら、段階3の例に「在庫情報システムによる在庫量・発注量の管理」があります。」 —
        the work the owner described (their own word, which the example uses) as the guides show it at the
        nearest later stage: where that work can go next."""
        told = nfkc(situation)
        # (a stage asked about, or planned, shows its examples itself)
        planned = planned_stage(told) if told else None
        seen = {int(next(g for g in m.groups() if g)) for m in NAMED_STAGE.finditer(told)}
        seen |= {planned.stage.level} if planned is not None else set()
        for later in (s for s in stages() if s.level > level and s.level not in seen):
            for example in later.example_quotes:
                words: list[str] = []
                for word in _WORK_WORDS[later.level]:  # (longest first: 「受発注」, then not its 「発注」)
                    if word in told and word in example and not any(word in w for w in words):
                        words.append(word)
                if not words:
                    continue
                n_label = self._cite_quote(book, _STAGE_LABEL_QUOTES[later.level], hits)
                n_example = self._cite_quote(book, example, hits)
                if not (n_label and n_example):
                    continue
                shown = "・".join(f"「{w}」" for w in words[:2])
                ja = f"ご説明の{shown}なら、段階{later.level}の例に「{example}」があります。"
                if english:
                    en = f"For the work you describe ({shown}), the guides' stage {later.level} example is 「{example}」."
                    return f"{en}（日本語: {ja.rstrip('。')}）[{n_label}][{n_example}]"
                return f"{ja}[{n_label}][{n_example}]"
        return ""

    def likeness(
        self, match: StageMatch, book: CitationBook, hits: list[Hit], english: bool, planned: bool = False
    ) -> str:
        """「ご説明の「FAX」は、段階1の例「受発注をFAXや電話のみで実施」にあたります。」 — only when the owner's
        own words appear in the guides' example: never a likeness the owner did not describe (paper drawings
        are not 「受発注をFAXや電話のみで実施」). `planned`: what the owner considers (one word, the longest, is
        shown: 「顧客管理システムに移したい」 names 「顧客管理」, not also 「システム」)."""
        stage = match.stage
        # The example the owner's words fit best (「顧客管理」 over 「システム」, which both examples have).
        example = max(
            stage.example_quotes, key=lambda q: sum(len(c) for c in match.cues if c in nfkc(q).lower())
        )
        cues = sorted((c for c in match.cues if c in nfkc(example).lower()), key=len, reverse=True)[
            : 1 if planned else 2
        ]
        n_label = self._cite_quote(book, _STAGE_LABEL_QUOTES[stage.level], hits)
        n_example = self._cite_quote(book, example, hits)
        if not (n_label and n_example and cues):
            return ""
        shown = "・".join(f"「{c.upper() if c.isascii() else c}」" for c in cues)
        ja = f"ご説明の{shown}は、段階{stage.level}の例「{example}」にあたります。"
        if not english:
            return f"{ja}[{n_label}][{n_example}]"
        en = (
            f"What you {'plan' if planned else 'describe'} ({shown}) matches the guides' stage {stage.level}"
            f" example 「{example}」."
        )
        return f"{en}（日本語: {ja.rstrip('。')}）[{n_label}][{n_example}]"

    @staticmethod
    def _fitting(
        claims: list[Claim], weights: dict[str, float], n: int, vary: str = "", near: float = 1.0
    ) -> list[Claim]:
        """The `n` claims sharing the most (IDF-weighted) context words, kept in card order. Given `vary` (the
        question), claims that fit at least `near` times as well as the best are taken in an order that
        differs from question to question but is always the same for one question — so that the same agency
        is not introduced with the same sentence under every answer; else ties go in card order."""

        def fit(claim: Claim) -> float:
            return sum(w for t, w in weights.items() if t in tokens_of(claim.sentence))

        def shuffle(claim: Claim) -> int:
            digest = hashlib.blake2b(f"{vary}\n{claim.sentence}".encode(), digest_size=4).digest()
            return int.from_bytes(digest, "big")

        best_fit = max((fit(c) for c in claims), default=0.0)
        scored = []
        for i, c in enumerate(claims):
            score = fit(c)
            close = bool(vary) and score >= best_fit * near
            scored.append((best_fit if close else score, shuffle(c) if close else -i, i, c))
        best = sorted(scored, key=lambda x: (x[0], x[1]), reverse=True)[:n]
        return [c for _, _, _, c in sorted(best, key=lambda x: x[2])]

    def agencies(
        self,
        matches: list[AgencyMatch],
        book: CitationBook,
        hits: list[Hit],
        context: str = "",
        brief: bool = True,
        english: bool = False,
        question: str = "",
        avoid: tuple[str, ...] = (),
        items: bool = True,
        heard: str = "",
    ) -> list[AgencyRecommendation]:
        """Each agency with its reason and (with `items`) what to discuss or bring, from its advice card
        (quotes that name it). `heard`: what the user said in the conversation (the problems a talking point
        may name; `context` also holds the answer's own sentences)."""
        context_weights = self.pool.weights(context)
        asked = set(self.pool.weights(question))
        out = []
        for m in matches:
            agency = m.agency
            card = self.cards.by_id(AGENCY_CARDS.get(agency.id, ""))
            cited: list[int] = []
            reason = ""
            if m.regions:
                reason = self._region_selected(m.regions, book, hits, english)
                cited += parse_markers(reason)
            what: list[str] = []
            if card is not None and card.answer:
                # The reason and the things to bring that fit this conversation best (ties: card order).
                # …and not a sentence the answer above already says.
                # The PMO diagram's division of work is a reason only for a question about who develops,
                # runs or procures what; for a question on security or culture it says nothing.
                # (in what is asked: 「ICTのシステムを入れたいとは思っている」 describes the business)
                example = not EXAMPLE_ASKED.search(asked_part(question))
                choices = (
                    [
                        c
                        for c in card.answer[:REASON_CHOICES]
                        if not any(near_duplicate(c.sentence, a) for a in avoid)
                        and not (example and re.search(r"連携例|PMO|事例|協議会", c.sentence))
                        # (what the agency itself gains — 「ベンダー自身も…従業員の定着に良い効果」 — is no reason
                        # for an owner to consult it)
                        and not re.search(r"自身(も|の)", c.sentence)
                        # 「会計士・税理士も活用されている」 is a reason only where the books are the subject
                        # (for security or labour, the sentence naming 情報処理安全確保支援士・社労士 is).
                        and not (
                            ACCOUNTANTS.search(c.sentence)
                            and not OTHER_PROFESSIONALS.search(c.sentence)
                            and not ACCOUNTANTS.search(nfkc(context))
                        )
                    ]
                    or card.answer[:REASON_CHOICES]
                )
                if card.id in _SHARED_AGENCY_CARDS:
                    # A card several kinds share (大手ITベンダー, 大学, 業界団体…): only a sentence naming this one
                    # is its reason (「大学・教育機関や…地方公共団体等も…」 is none for 業界団体).
                    choices = [
                        c for c in choices if names_agency(nfkc(c.sentence).lower(), agency.names)
                    ] or choices
                for_need = [c for c in card.answer if c.when is not None and c.applies(heard or question)]
                choices = [c for c in choices if c.when is None] or choices
                reason_claim = (
                    for_need[0]
                    if for_need
                    else self._fitting(choices, context_weights, 1, vary=question, near=REASON_NEAR)[0]
                )
                first = self._cite_claim(book, reason_claim, hits, english)
                if first:
                    # (An English sentence ends in its Japanese and markers, with no 「。」 to split it from the
                    # place's sentence before it: its own line.)
                    reason += ("\n" if english and reason else "") + first
                    cited += parse_markers(first)
                # A step for a condition (「DX認定を取得している場合は…」) only when the owner raised it.
                steps = [
                    c
                    for c in card.steps
                    if "場合" not in c.sentence or tokens_of(c.sentence) & asked - {"場合"}
                ]  # (「うちの場合」 raises no condition)
                if brief:
                    # Under an answer, what this agency in particular needs to hear; the items every
                    # agency card shares come with 「何を持っていけばいい？」. The guides' example of a bank as
                    # PMO only where the question touches on it (under every answer it read as boilerplate).
                    # (With nothing else of its own left, the owner still learns what to tell it: the shared
                    # items, 「間接業務の多忙や…課題を共有する」.)
                    own = [
                        c
                        for c in steps
                        if c.sentence not in self._shared_steps
                        and (
                            not re.search(r"連携例|PMO|事例", c.sentence)
                            or not example
                            or _claim_tokens(c) & asked
                        )
                    ]
                    steps = own or [c for c in steps if c.sentence in self._shared_steps] or steps
                # (A problem the owner did not raise is no talking point, even with nothing else left.)
                steps = [c for c in steps if raised(c, heard or question)]
                for step in self._fitting(
                    steps if items else [],
                    context_weights,
                    BRING_ITEMS if brief else len(steps),
                    vary=question if brief else "",
                    near=REASON_NEAR,
                ):
                    line = self._cite_claim(book, step, hits, english)
                    if line:
                        what.append(line)
            out.append(
                AgencyRecommendation(
                    id=agency.id,
                    name=agency.name,
                    reason=reason,
                    what_to_ask=what,
                    citations=[book.get(n) for n in dict.fromkeys(cited)],
                )
            )
        return out

    def _cite_claim(self, book: CitationBook, claim: Claim, hits: list[Hit], english: bool = False) -> str:
        """A card sentence with the markers of its quotes; empty when a quote is not in the index."""
        numbers = [self._cite_quote(book, q, hits) for q in claim.cites]
        if not numbers or any(n is None for n in numbers):
            return ""
        return claim_text(claim, english) + "".join(f"[{n}]" for n in dict.fromkeys(numbers))

    def card_body(
        self,
        card: Card,
        why: str,
        question: str,
        english: bool,
        book: CitationBook,
        hits: list[Hit],
        stage: StageEstimate | None,
        agencies: list[AgencyRecommendation],
        previous: TurnState | None,
        also: str = "",
        situation: str = "",
    ) -> str:
        """結論 first, then 現在地, 次の一歩, 相談先, what the guides leave out, and one question back.
        `also`: the other part of a compound question, answered by its own card, right after the answer;
        `situation`: what the owner said in the whole conversation (the problems a step may name)."""
        parts: list[str] = []
        label = LABELS["en" if english else "ja"]
        heard = situation or question  # the user's words, this turn's included (not the answers' own)
        listed = find_regions(question, self.regions) if card.kind == "region" else []  # lab places named
        if english:
            parts.append(label["notice"])
        if why == "short":
            return self._shorter(card, question, english, book, hits, stage, previous)
        if listed and ASKS_WHEN.search(nfkc(question)):
            parts.append(self._selected_when(listed, book, hits, english))  # 「札幌はいつ選ばれた？」
        if (
            card.id == "regional-dx-lab"
            and why == "match"
            and self.verdict(card, question) is None  # (「はい。」 leads where the question is yes or no)
            and (places := find_regions(question, self.regions))
        ):
            # 「燕市は選ばれていると聞きました。うちも何か関われる？」: that the place is one, then what a lab is.
            parts.append(self._region_selected(places, book, hits, english))
        if card.kind == "clause":
            claims = card.answer
            # 「柱3-3の望ましい方向性は？」 asks for one part — in its own words too (「柱となる考え方を原文のまま」);
            # 原文・全文 alone asks for the whole clause.
            asked = [c for c in claims if _CLAUSE_PART[_clause_part(c)].search(nfkc(question))]
            claims = asked or claims
            if not asked and _IN_SHORT.search(nfkc(question)):
                claims = claims[
                    :2
                ]  # 「かみくだいて3行くらいでまとめて」: the pillar's own idea (柱となる考え方)
            lines = [f"- {line}" for c in claims if (line := self._cite_claim(book, c, hits, english))]
            parts.append(f"### {card.title}\n" + "\n".join(lines))
            verbatim = wants_verbatim(question)
            full = guide_clause_section(self.index, card.id, question, verbatim, book, english)
            if full:
                parts.append(full)
        elif why == "detail" and not (
            card.kind == "region"
            and (listed or named_prefecture(question) in LISTED_IN)
            and not ASKS_WHEN.search(nfkc(question))
        ):
            # (「選ばれてる地域って、沖縄だとどこ？」: the places named, as a first question on them gets)
            gap = uncovered_part(card, question, english)
            if gap and (uncovered(card, question) or cost_uncovered(card, question)):
                # 「締め切りはある？」: the plain answer first — the guides do not say — then what they do say
                # about the question's subject (not about the missing procedure: 「期間」 is no 「訓練期間」).
                detail = self.detail(card, without_procedure(question), english, book, hits, passages=False)
                if not detail:
                    # 「専任は置けない」: nothing more on the point, so what the guides do suggest on the topic.
                    detail = self.to_do(card, english, book, hits, lead=False, heard=heard)
                return "\n\n".join(p for p in (gap, detail) if p)
            detail = self.detail(
                card, question, english, book, hits, said=previous.said if previous is not None else ""
            )
            if not detail and self.verdict(card, question) is None:
                # Nothing clearly on the point: the topic's own sentence that comes closest, when it rests on
                # a passage the search itself puts first (「研修以外に何が重要？」→ 評価制度やインセンティブ設計),
                # before the related topics and the bare passages.
                best = select_sentences(
                    self.pool,
                    [h.chunk for h in hits[:6]],
                    self.pool.weights(question, expansions_for(question)),
                    AGREEING_SENTENCES,
                    query_vector=self.index.embed_query(question),
                )
                detail = self.detail(
                    card,
                    question,
                    english,
                    book,
                    hits,
                    passages=False,
                    min_overlap=DETAIL_RETRY_OVERLAP,
                    most=1,
                    agreeing=[c.text for c in best],
                    said=previous.said
                    if previous is not None and OTHERS_ASKED.search(nfkc(question))
                    else "",
                )
            if not detail and card.kind == "agency" and WHY_ASKED.search(nfkc(question)):
                # 「なんで銀行がそんなことまでやるの？」: why that agency, i.e. its card's reasons (those the last
                # answer has not given first).
                given = compact(strip_markers(previous.said)) if previous is not None else ""
                why_support = self.cards.by_id("staff-why-support")
                reasons = [
                    c for c in card.answer if c.applies(heard) and compact(c.sentence) not in given
                ] or [
                    # (all said already: why agencies take up DX support at all — a new business for them)
                    c
                    for c in (why_support.answer if why_support is not None else card.answer)
                    if compact(c.sentence) not in given
                ]
                lines = [
                    _full_stop(line)
                    for c in reasons[:WHY_REASONS]
                    if (line := self._cite_claim(book, c, hits, english))
                ]
                detail = "".join(lines)
            if card.id.startswith("case-") and WHAT_TO_DO.search(nfkc(question)):
                # 「旅館業のうちが参考にするとしたら、どのあたりを真似すれば？」: what the case did that others can
                # do (its steps), even when its answer gave them.
                # (led by how the case went about it, where the card says so for one who asks to copy it)
                copied = "".join(
                    _full_stop(line)
                    for c in card.answer
                    if c.when is not None
                    and c.applies(question)
                    and (line := self._cite_claim(book, c, hits, english))
                )
                case_steps = self.to_do(card, english, book, hits, lead=False, heard=heard)
                detail = (copied + "\n\n" + case_steps if copied and case_steps else case_steps) or detail
            detail = self.verdict_first(card, question, english, book, hits, detail)
            found = self._selected_home(card, question, book, ("dx-selection",)) if not english else ""
            if found:
                # 「過去に北海道の会社で選ばれたところってありますか？」 after DXセレクション: the table's rows first.
                detail = found + ("\n\n" + detail if detail else "")
            if (
                stage is not None
                and STAGE_ASKED.search(nfkc(question))
                and (not detail or re.search(r"どこ|どの|何段階|where|which", nfkc(question), re.IGNORECASE))
            ):
                # 「うちって段階でいうとどこ？」 again: where the firm stands is the answer.
                detail = f"{label['stage']}\n{stage.reason}"
            if (
                not detail
                and EXAMPLES_ASKED.search(nfkc(question))
                and not OTHERS_ASKED.search(nfkc(question))  # (「ほかに…例があれば」: not what was said)
                and card.not_covered
            ):
                # 「倉庫業だと、具体的にどんな指標を？例をいくつか」 after the topic: its own sentences on the
                # point, even if said before, rather than bare passages.
                examples = self.detail(
                    card,
                    question,
                    english,
                    book,
                    hits,
                    passages=False,
                    most=2,
                    min_overlap=EXAMPLES_MIN_OVERLAP,
                )
                detail = examples  # (what the guides leave out — no KPI by industry — follows, said plainly)
            given = compact(strip_markers(previous.said)) if previous is not None else ""
            if (
                not detail
                and WHAT_TO_DO.search(nfkc(question))
                and not any(compact(c.sentence) in given for c in card.steps)  # (not the steps just given)
            ):
                # 「明日からでもできる対策を3つ」 after security, with no sentence on the point: the topic's
                # steps (what the guides leave out — no checklist — follows, said plainly).
                detail = self.to_do(card, english, book, hits, lead=False, heard=heard)
            if not detail and FIGURES.search(nfkc(question)):
                # 「先代を説得する材料になるデータとかある？」 after the figures were given: the topic's figures
                # again, not bare passages that hold none.
                detail = "".join(
                    _full_stop(line)
                    for c in card.answer
                    if re.search(r"\d", c.sentence) and (line := self._cite_claim(book, c, hits, english))
                )
            if not detail:
                return ""  # nothing in the topic speaks to it: the passages answer instead
            parts.append(detail)
        elif why == "source":
            parts.append(
                self.sources(
                    card, english, book, hits, previous.said if previous is not None else "", question
                )
            )
            agencies = []
        elif why == "next" and previous is not None and previous.stage is not None:
            parts.append(self._stage_described(previous.stage + 1, book, hits, english))
        elif why == "bring" and agencies:
            agency = agencies[0]
            steps = agency.what_to_ask or [
                line
                for c in card.steps
                if raised(c, heard) and (line := self._cite_claim(book, c, hits, english))
            ]
            # What any agency needs to hear, after what this one needs (skipping what it already lists).
            prepare = self.cards.by_id("consult-prepare")
            for claim in prepare.steps if prepare is not None else []:
                if raised(claim, heard) and not any(
                    near_duplicate(claim.sentence, strip_markers(s)) for s in steps
                ):
                    line = self._cite_claim(book, claim, hits, english)
                    steps.append(line) if line else None
            parts.append(label["bring"].format(name=agency.name) + "\n" + "\n".join(f"- {s}" for s in steps))
            if agency.reason:
                parts.append(agency.reason)
            agencies = []
            # 「直接電話してもよか？」「手ぶらでいい？」: what the guides leave open on that, said first.
            open_points = [
                gap
                for asked, source in ((_CONTACT, card), (_DOCUMENTS, prepare))
                if source is not None and asked.search(nfkc(question)) and (gap := source.gap(english))
            ]
            if open_points:
                parts.insert(0, "\n".join(f"{label['gap']}{gap}" for gap in dict.fromkeys(open_points)))
        else:
            # (a `when` sentence that only restates sentences the answer gives in full is not said with them)
            sayable = [
                c for c in card.answer if c.applies(heard) and not (c.when and _restates(c, card.answer))
            ]
            # (…and a sentence whose quote holds the quote of a `when` sentence said for this question is not said
            # beside it: 「今日は簡単に安く使えるデジタルツールが増えているので…」 says 「…増えているにもかかわらず」's point)
            when_quotes = [q for c in sayable if c.when is not None for q in c.cites]
            sayable = [
                c
                for c in sayable
                if c.when is not None
                or len(c.cites) > 1
                or not any(t != q and t in q for t in when_quotes for q in c.cites)
            ] or sayable
            claims = (
                self._answer_first(card, question, sayable)
                if card.kind in ("topic", "staff", "agency")
                else sayable
            )
            # A sentence said only to a question in its words answers this one first (「10人の会社が行っても
            # 相手にしてもらえる？」 → what the 「主治医」 are there for).
            # So does a case's sentence to 「工夫している例はありますか」.
            meant = [
                c
                for c in claims
                # (where to start says its advice first, then the case that fits what the owner told)
                if (c.when is not None and c.applies(question) and card.kind != "start")
                or (ASKS_CASE.search(nfkc(question)) and _NAMES_CASE.search(c.sentence))
                # …and what a programme offers to 「具体的に何を手伝ってもらえるの？」
                or (WHAT_FOR_US.search(nfkc(question)) and re.search(r"支援メニュー", c.sentence))
            ]
            claims = meant + [c for c in claims if c not in meant]
            verdict = self.verdict(card, question)
            if verdict is not None:
                claims = [verdict[0], *(c for c in claims if c is not verdict[0])]
            # (「新潟にもある？」: the prefecture and the towns in it; 「燕市です」 names its own town only)
            prefectures_only = all(r.endswith(("都", "府", "県")) or r == "北海道" for r in listed)
            regions = listed + [
                town
                for r in listed
                for town in TOWNS_IN.get(re.sub(r"[都府県]$", "", r), [])
                if town not in listed and prefectures_only
            ]
            place = named_prefecture(question) if card.kind == "region" and not regions else None
            if place in LISTED_IN:
                # 「愛知県って選ばれてる？」: not the prefecture as a whole — said first — but a place in it.
                whole = place + prefecture_suffix(place)
                parts.append(
                    f"{whole} as a whole is not on the list of the 43 Regional DX Promotion Lab areas; "
                    f"within {whole}, this area is:"
                    if english
                    else f"{whole}全体は、地域DX推進ラボの選定地域（43地域）の一覧には見当たりません。"
                    f"{whole}の中で選定されているのは次の地域です。"
                )
                regions, place = LISTED_IN[place], None
            if place is not None:
                # 「熊本にラボってある？」: no first — said plainly — then what the guides say instead.
                parts.append(
                    f"{place} is not on the guides' list of the 43 Regional DX Promotion Lab areas."
                    if english
                    else f"{place}は、資料にある地域DX推進ラボの選定地域（43地域）の一覧には見当たりません。"
                )
                # The flat list goes; the list by METI bureau stays, so the owner sees the labs nearby.
                claims = [c for c in claims if not _lists_places(c.sentence) or "管内" in c.sentence]
            area = named_area(question) if card.kind == "region" and not regions and place is None else None
            if area is not None:
                # 「四国ではどこが入っていますか」: the places in that bureau's area first.
                parts.append(
                    f"In the {AREA_EN.get(area, area)} area, these are selected:"
                    if english
                    else f"{area}で選定されているのは次の地域です。"
                )
                regions = BUREAU_AREAS[area]
            selected = self._region_selected(regions, book, hits, english) if regions else ""
            if selected:
                # 「燕市は入ってる？」: yes first — not the whole list of 43 places.
                parts.append(selected)
                claims = [c for c in claims if not _lists_places(c.sentence)]
            # (in what is asked: 「東京の下町で印刷会社…DX認定がなくても応募できますか？」 asks no list)
            found = self._selected_home(card, question, book, ("dx-selection", "case-gotogumi"))
            if found:
                parts.append(found)  # 「岐阜の会社って選ばれてた？」: the companies from there, first
            # 「うちでも関係ある？」 is answered first (DX pays off for SMEs), then for the owner's stage; so is
            # 「こんなんでもやれるもんかい？」 (cheap tools, the success points: start small, grow people on the way).
            lead, said_first = LEADS.get(why, ("", 0))
            lead_card = self.cards.by_id(lead)
            # (with its sentence for such a question: 「うちみたいな小さな店でも関係ある？」 → cheap tools, start small)
            lead_claims = (
                [
                    *lead_card.answer[:said_first],
                    *(c for c in lead_card.answer[said_first:] if c.when and c.applies(question)),
                ]
                if lead_card is not None
                else []
            )
            leading = "".join(
                _full_stop(line)
                for claim in lead_claims
                if (line := self._cite_claim(book, claim, hits, english))
            )
            lead_verdict = self.verdict(lead_card, question) if lead_card is not None and leading else None
            if lead_verdict is not None and lead_verdict[0] in lead_claims and not english:
                leading = (
                    label[lead_verdict[1]] + leading
                )  # 「うちのような小さな治療院でも関係ある？」: はい, and why
            if leading:  # (the card's sentence quoting what the lead quoted is not said twice)
                quoted = {q for claim in lead_claims for q in claim.cites}
                claims = [c for c in claims if not set(c.cites) & quoted] or claims
            named = NAMED_STAGE.search(nfkc(question))
            level = int(next(g for g in named.groups() if g)) if named else None
            stages_card = card.kind == "start" or card.id == "stages-overview"
            # (「息子が注文をメールにして在庫をシステムに入れたい言うとる。それはDXなんですか」: the plan's stage too)
            planned = (
                planned_stage(question)
                if card.id in ("stages-overview", "dx-vs-it") and level is None
                else None
            )
            if planned is not None and stage is not None and planned.stage.level <= stage.level:
                planned = None  # 「出勤簿に判子押すのをやめて…したい」: what is left behind is no plan
            plan_line = ""
            if planned is not None:
                # 「顧客管理システムに移したい。どの段階の取組？」: the stage of that plan is the answer.
                level = planned.stage.level
                plan_line = self.likeness(planned, book, hits, english, planned=True)
                if card.id != "dx-vs-it":
                    parts.append(plan_line)
            if stages_card and level is not None and (stage is None or stage.level != level):
                # 「入れたら段階3ってこと？」: what the guides say stage 3 is, before what to do.
                parts.append(self._stage_described(level, book, hits, english, following=False))
            stage_block = ""
            if stage is not None:
                # 現在地 says which stage; the card's own sentences about it would repeat it.
                # Said in full once: a follow-up in the same stage gets its one-line conclusion only.
                again = (
                    previous is not None
                    and previous.stage_said
                    and previous.stage == stage.level
                    and not OWN_STAGE_ASKED.search(nfkc(question))
                )
                if again:
                    stage.reason = _first_sentence(stage.reason, english)
                    marked = set(parse_markers(stage.reason))
                    stage.citations = [c for c in stage.citations if c.n in marked]
                stage_block = f"{label['stage']}\n{stage.reason}"
                stated = {c.quote for c in stage.citations}
                claims = [c for c in claims if not set(c.cites) & stated] or claims
            if card.kind == "start" and not (
                FIGURES.search(nfkc(question)) or WANTS_FIGURE.search(nfkc(question))
            ):
                # 「段階1の企業は中小企業全体の30.8%」 tells an owner asking where to start nothing to do: only
                # for 「うちみたいな会社はどのくらいある？」.
                claims = [c for c in claims if not SHARE.search(c.sentence)] or claims
            sentences = [
                _in_prose(c, line, english)
                for c in claims
                if (line := self._cite_claim(book, c, hits, english))
            ]
            body = _as_body(sentences, english)
            if leading:
                body = (f"- {leading}\n" if english else leading) + body
            if card.id == "dx-vs-it" and plan_line:
                # 「…それはDXなんですか」: いいえ and why, then where the plan stands among the stages.
                opening = re.match(r"[^。\n]*。(?:\[\d+\])*\n?" if not english else r"[^\n]*\n", body)
                cut = opening.end() if opening else 0
                body = (
                    body[:cut]
                    + ("\n" if english else "")
                    + plan_line.strip()
                    + ("\n" if english else "")
                    + body[cut:]
                )
            if verdict is not None and sentences:
                body = label[verdict[1]] + ("\n" if english else "") + body  # 「はい。」 then why
            # Two parts asked, two answers: each under its subject (「### DX推進指標とは何か」).
            heading = f"### {card.title_en if english else card.title}\n" if also else ""
            answer = (label["answer"] + "\n" if stage is not None else heading) + body
            found = (
                self._passages_section(card, question, hits, book, label["passages"])
                if not also and card.kind in ("topic", "staff")
                else ""
            )
            if (
                found
                and verdict is None
                and asks_fact(question)
                and WANTS_FIGURE.search(nfkc(question))
                and re.search(r"\d", strip_markers(found))
            ):
                # 「相談件数は何件？」: the passage with the figure asked for comes first, the topic after it.
                parts += [found, answer]
                found = ""
            else:
                parts.append(answer)
            # The answer first (結論), then where the firm stands — unless that is what was asked
            # (「うちはどの段階？何から始めれば？」), or the answer goes on from it (「次の段階3では…」 reads
            # well only after 「段階2と考えられます」).
            first = STAGE_ASKED.search(nfkc(question)) or (stage is not None and stage.level >= 2)
            parts.insert(len(parts) - 1 if first else len(parts), stage_block)
            if found or also:
                parts.append(also or found)  # (the passages for the whole message would be about `also`)
        if stage is not None and card.kind == "clause":
            parts.append(f"{label['stage']}\n{stage.reason}")
        # (「次の段階は？」 shows the stage above instead of the card's answer: its steps are all still new.)
        # (not a `when` sentence the answer left unsaid)
        said = (
            [q for c in card.answer if c.applies(heard) for q in c.cites]
            if card.kind != "clause" and why != "next"
            else []
        )
        # A step whose every quote the answer above already cites would only say it again.
        fresh_steps = [c for c in card.steps if not all(any(q in s for s in said) for q in c.cites)]
        chosen = fresh_steps or card.steps[:1]
        chosen = [c for c in chosen if raised(c, heard)]
        if previous is not None and previous.said and why != "next" and not card.id.startswith("case-"):
            # A step the last answer's prose said, in its words or nearly (「身近なところから始めて成功体験を重ねる
            # こと」), is not the next one. (A step it listed still is, for a follow-up on it: 「社長として具体的に
            # 何を？」 wants 「社長自らが社員に対してDXの必要性を語る」 again. 「次の段階に進むには？」「もっと詳しく」
            # get the stage above, then the owner's steps.)
            prose = "\n".join(
                line for line in previous.said.splitlines() if not line.lstrip().startswith("- ")
            )
            chosen = [c for c in chosen if not _said_in(c.sentence, prose)]
        if (
            card.kind == "start"
            and card.steps
            and card.steps[0] not in chosen
            and len(chosen) <= 1
            and why != "next"
        ):
            # A stage's first step is what to do first (「紙や電話…から、身の回りの業務のデジタル化を始める」), even
            # where the answer above quotes its passages — when nothing more concrete (the FAX step) is left.
            chosen.insert(0, card.steps[0])
        if listed:
            chosen = [c for c in chosen if "でない場合" not in c.sentence]  # the place is listed
        steps = [line for c in chosen if (line := self._cite_claim(book, c, hits, english))]
        if card.kind == "staff" and not is_supporter(question):
            steps = []  # 「ケース研修を年4回開催する」 is a support organisation's step, not an owner's
        if card.kind in ("topic", "agency", "region", "start") and is_supporter(situation):
            steps = []  # …and 「自社の地域が選定地域か把握する」 an owner's, not a prefecture official's
        if asks_fact(question) and card.kind != "start":
            steps = []  # 「アプリは何で作った？」 asks for a fact, not for what to do next
        if steps and why not in ("bring", "detail", "source"):
            # Nothing started yet (no stage described, or stage 1): the first step; otherwise the next one.
            first = card.kind == "start" and (stage is None or stage.level == 1) and why != "next"
            heading = label["first_steps" if first else "steps"]
            parts.append(heading + "\n" + "\n".join(f"- {s}" for s in steps))
        if agencies:
            # A second agency only when the owner asks whom to consult; otherwise one clear recommendation.
            others = 1 if ASKS_WHO.search(nfkc(question)) or card.kind in ("agency", "region") else 0
            above = compact(strip_markers("\n".join(parts)))
            # An agency's reason the answer above already gave (「はい。銀行法等の一部改正により…」) is not said twice.
            shown = [
                a.model_copy(update={"reason": ""})
                if a.reason and compact(strip_markers(a.reason)) in above
                else a
                for a in agencies
            ]
            section = self._agency_section(
                shown, label["agencies"], detailed=1, english=english, others_shown=others
            )
            if any(SELECTED in p for p in parts):
                # 「燕市は選定地域です。」 is said once, at the top (the agency's reason may name more places).
                section = re.sub(rf"[^\s*:：。]*{SELECTED}(\[\d+\])*", "", section)
            parts.append(section)
        gap = card.gap(english) if why != "source" else ""
        priced = (
            HOW_MUCH.search(nfkc(question))
            and re.search(r"費用|価格|料金|金額|額|いくら|price|cost|fee", gap or "")
            # (「利率はなんぼくらいね？」: the loan's card gives the rate, so that leads)
            and not re.search(r"利率|金利|利息|\brates?\b", nfkc(question), re.IGNORECASE)
        )
        # (A follow-up asking when — 「次の公募はいつ頃？」 — is answered by the date the guides do not give.)
        timed = bool(ASKS_WHEN.search(nfkc(question)))
        if gap and (priced or (uncovered(card, question) and (why != "detail" or timed))):
            # 「いくらかかる？」: the honest answer comes first — the guides give no prices — then what they do say
            # (the part of it on what was asked: 「選ばれたら得することは？」 → no perks, not also the deadlines).
            parts.insert(1 if english else 0, uncovered_part(card, question, english) or gap)
        elif (
            gap
            and (
                why == "money"
                or MONEY.search(nfkc(question))
                or card.kind == "start"
                or self._touches(card, question)
            )
            # (「今どのへんの段階なん？」 again: where the firm stands is the whole answer)
            and not (why == "detail" and OWN_STAGE_ASKED.search(nfkc(question)))
        ):
            # Only what the owner asked about: the deadlines of DXセレクション are noise under 「グランプリの
            # 会社はどうやって協力してもらった？」. (Where to start always says which task, tool and cost the
            # guides leave open: the memo carries it to the agency.)
            parts.append(f"{label['gap']}{gap}")
        # One question back, only where the answer can use the reply: the owner's current practice (for
        # the stage) under where-to-start answers, the place under regional ones.
        ask = card.ask_back_en if english and card.ask_back_en else card.ask_back
        # (「in Fukuoka」「in Sapporo」 too)
        told = (
            PLACE.search(nfkc(question)) or named_prefecture(question) or find_regions(question, self.regions)
        )
        usable = (card.kind == "region" and not told) or (card.kind == "start" and stage is None)
        # (Never to a supporter: a city official is asked nothing about 「御社」.)
        if ask and usable and (previous is None or previous.stage is None) and not is_supporter(situation):
            parts.append(ask)
        return "\n\n".join(p for p in parts if p.strip())

    def _shorter(
        self,
        card: Card,
        question: str,
        english: bool,
        book: CitationBook,
        hits: list[Hit],
        stage: StageEstimate | None,
        previous: TurnState | None,
    ) -> str:
        """「もっと短く」「三行で」: where the firm stands in one sentence, then the first sentences of what the
        last answer said from this card (its answer's, in their order), two of them — three when asked for."""
        said = compact(strip_markers(previous.said)) if previous is not None else ""
        answer = [c for c in card.answer if c.applies(question) or compact(c.sentence) in said]
        # (in the order the last answer said them: 「いいえ。デジタル化による業務効率化はDXと同義…」 first)
        given = sorted(
            (c for c in answer if compact(c.sentence) in said), key=lambda c: said.index(compact(c.sentence))
        )
        given = given or answer
        most = 3 if re.search(r"[3三]行|three", nfkc(question), re.IGNORECASE) else 2
        lines = [
            _in_prose(c, line, english) for c in given if (line := self._cite_claim(book, c, hits, english))
        ]
        if stage is not None and (card.kind == "start" or card.id in ("dx-vs-it", "stages-overview")):
            lines = [_full_stop(_first_sentence(stage.reason, english)), *lines]
        return _as_body(lines[:most], english)

    def _stage_described(
        self, level: int, book: CitationBook, hits: list[Hit], english: bool, following: bool = True
    ) -> str:
        """A stage in the guides' description and examples: the stage above the owner's (「次の段階に進むには？」)
        or, not `following`, the stage the question names (「入れたら段階3ってこと？」)."""
        stage = next(s for s in stages() if s.level == level)
        n_label = self._cite_quote(book, _STAGE_LABEL_QUOTES[level], hits)
        n_desc = self._cite_quote(book, stage.description_quote, hits)
        examples = [(q, n) for q in stage.example_quotes if (n := self._cite_quote(book, q, hits))]
        if not (n_label and n_desc):
            return ""
        if english:
            head = (
                f"The next stage is stage {level} ({_STAGE_EN[level]}). The guides describe it and give examples:"
                if following
                else f"Stage {level} ({_STAGE_EN[level]}) is described in the guides as follows:"
            )
            quoted = [
                f"「{stage.description_quote}」[{n_label}][{n_desc}]",
                *(f"「{q}」[{n}]" for q, n in examples),
            ]
            return head + "\n" + "\n".join(f"- {q}" for q in quoted)
        head = f"次は段階{level}「{stage.label}」です。" if following else f"段階{level}「{stage.label}」の"
        lines = [f"{head}資料の説明: 「{stage.description_quote}」[{n_label}][{n_desc}]"]
        if examples:
            shown = "、".join(f"「{q}」[{n}]" for q, n in examples)
            lines.append(f"資料の例: {shown}")
        return "\n".join(lines)

    def also(self, card: Card, question: str, english: bool, book: CitationBook, hits: list[Hit]) -> str:
        """The other part of a compound question, answered by its own card: its title and up to three of its
        sentences, the one that answers the part first."""
        claims = self._answer_first(card, question)[:ALSO_CLAIMS]
        lines = [
            _in_prose(c, line, english) for c in claims if (line := self._cite_claim(book, c, hits, english))
        ]
        if not lines:
            return ""
        title = card.title_en if english and card.title_en else card.title
        body = _as_body(lines, english)
        return f"### {title}\n{body}"

    def _touches(self, card: Card, question: str) -> bool:
        """Does the question ask about something the card's `not_covered` names (beyond the topic's name)?"""
        name = re.split(r"[（(]", card.title)[0]
        subject = set(tokens_of(name + " " + " ".join(expansions_for(name))))
        weights = self.pool.weights(question, expansions_for(question))
        gap = tokens_of(card.not_covered or "")
        return any(t in gap for t in weights if t not in subject and len(t) > 1)

    def verdict(self, card: Card, question: str) -> tuple[Claim, str] | None:
        """The card's sentence that answers this yes/no question, and whether with はい or いいえ."""
        text = nfkc(question)
        # 「…入っていないといけない？」「…なきゃダメ？」 ask whether something is required, which is no negative question
        must = re.sub(
            r"(ないと|なければ|なきゃ|なくては|ねば)(いけ|なら|だめ|ダメ|あか|無理|駄目)[^。？?]{0,6}",
            "必要",
            text,
        )
        # (from the first asking sentence on: 「正直なにがDXなのがよぐわがらねぇ。FAXをメールさ変えだら、それで
        # DXだべが？」 says 「なに」 before it, in a sentence that asks nothing; 「…ということですか？では旅館に
        # とってのDXってどういう姿なんでしょう。」 asks what, after it)
        asking = asking_text(text) or ""
        start = text.find(asking[:8]) if asking else -1
        asked_on = text[start:] if start >= 0 else text
        # (the asking sentence is yes or no, and nothing from it on asks what, how or where — a remark after it,
        # 「融資の話だけかと思ってた。」, ends in no question mark)
        yes_no = YES_NO.search(asked_part(text)) and YES_NO.search(re.sub(r"[。.!！]?\s*$", "?", asked_on))
        if not yes_no or NEGATIVE_QUESTION.search(must) or _EITHER_OR.search(text):
            # (「それはDXなんですか、それともただのデジタル化なんですか？」 asks which, not yes or no)
            # 「違うんですか？」「応募できないの？」: はい and いいえ would read either way round.
            return None
        # A condition that makes it いいえ (「誰でも」「認定を取ってなくても」) outweighs the topic's はい, which
        # the asking sentence must earn by itself (「研修に助成金が出るという話もありましたよね。3D CADの研修でも
        # 対象に？」 recalls the grant and asks about one kind of training, which the guides do not name).
        asked = " ".join(asking_parts(question)) or asked_part(question)
        for word in ("no", "yes"):
            for claim in card.claims():
                pattern = claim.no_if if word == "no" else claim.yes_if
                if pattern and re.search(pattern, text if word == "no" else asked, re.IGNORECASE):
                    return claim, word
        return None

    def _answer_first(self, card: Card, question: str, answer: list[Claim] | None = None) -> list[Claim]:
        """The card's answer with the sentence that answers this very question first (「DX認定がないと応募
        できない？」 → the sentence on 他薦, not the definition), when one fits clearly better than the first.
        `answer`: the sentences to say (the card's by default)."""
        answer = card.answer if answer is None else answer
        if WANTS_FIGURE.search(nfkc(question)):
            return answer  # a number is answered by the passages' figure sentences (_passages_section)
        weights = self.pool.weights(question, expansions_for(question))
        name = re.split(r"[（(]", card.title)[
            0
        ]  # 「DXセレクションとは（…）」: its name, and that name's synonyms
        subject = set(tokens_of(name + " " + " ".join(expansions_for(name))))
        # What is asked beyond the topic, in words the card uses at all (「最近」「聞いた」 tell its sentences
        # nothing apart; 「変わった」 read as 改訂・見直し does).
        said = {t for c in answer for t in _claim_tokens(c)}
        asked = {
            t: w for t, w in weights.items() if t not in subject and t in said and len(t) > 1
        }  # not 「人」
        if not asked:
            return answer

        def fit(claim: Claim) -> float:
            return _share(claim, asked)

        best = max(answer, key=fit)
        # (a first sentence naming nothing asked yields to one that names less than half of it)
        least = LEAD_MIN if fit(answer[0]) > 0 else LEAD_ALONE_MIN
        if best is answer[0] or fit(best) < least or fit(best) < LEAD_MARGIN * max(fit(answer[0]), 1e-9):
            return answer
        return [best, *(c for c in answer if c is not best)]

    def detail(
        self,
        card: Card,
        question: str,
        english: bool,
        book: CitationBook,
        hits: list[Hit],
        passages: bool = True,
        min_overlap: float = PASSAGE_MIN_OVERLAP,
        most: int = DETAIL_CLAIMS,
        agreeing: list[str] | None = None,
        said: str = "",
    ) -> str:
        """A follow-up on a topic already answered (「研修してる間の給料も出るの？」): only the card's sentences
        and (with `passages`) the passage sentences that speak to this question, not the whole answer again."""
        weights = self.pool.weights(question, expansions_for(question))
        money = bool(MONEY.search(nfkc(question)))
        wants_figure = bool(WANTS_FIGURE.search(nfkc(question)))

        when = bool(ASKS_WHEN.search(nfkc(question)))
        who = bool(NAME_ASKED.search(nfkc(question)))
        named = acronyms(nfkc(question))
        served = bool(WHAT_FOR_US.search(nfkc(question)))

        def overlap(claim: Claim) -> float:
            cost = 1.0 if money and STATES_COST.search(claim.sentence) else 0.0  # 「お金かかる？」→「無償」
            # 「全国にどれくらいいるの？」 asks for a number: a sentence that gives one (「約7,000名」) answers it.
            figure = FIGURE_BONUS if wants_figure and COUNTED.search(claim.sentence) else 0.0
            # 「いつ選ばれたの？」 asks for a date: a sentence with dates (「第1弾（2023年4月）」) answers it.
            dated = FIGURE_BONUS * len(DATED.findall(claim.sentence)) if when else 0.0
            name = FIGURE_BONUS if who and NAMED_ORG.search(claim.sentence) else 0.0
            # 「CISOって置かないといけない？」: a sentence that uses the acronym asked about.
            term = FIGURE_BONUS if any(a in claim.sentence for a in named) else 0.0
            # 「ラボに行くと何をしてもらえるの？」: the sentence on what it offers (its 支援メニュー).
            offer = (
                FIGURE_BONUS
                if served and re.search(r"支援メニュー|支援(します|する|を行)", claim.sentence)
                else 0.0
            )
            # A sentence said only to a question in its words (its `when`: 「どうやって巻き込んだ？」) answers it.
            meant = FIGURE_BONUS if claim.when is not None else 0.0
            return cost + figure + dated + name + term + offer + meant + _share(claim, weights)

        everything = bool(ALL_OF_IT.search(nfkc(question)))  # 「全部教えて」: the whole card, not a detail
        # (a `when` sentence only for a question in its words: 「真似できる？」 gets how the case went about it)
        candidates = [c for c in card.claims() if c.applies(question)]
        claims = sorted(
            (c for c in candidates if everything or overlap(c) >= min_overlap),
            key=overlap,
            reverse=True,
        )[: len(candidates) if everything else most]
        heard = compact(strip_markers(said))
        if OTHERS_ASKED.search(nfkc(question)):
            # 「ほかに工夫の例があれば」: what the last answer has not said yet, however well it fits.
            claims = [c for c in claims if compact(c.sentence) not in heard]
        # 「その会社、残業はどれくらい減った？」: the sentence that answers best, and no other that the last answer
        # already gave (「数字で見せて」: the figures it gave are still the best answer, so they stay).
        if not everything and claims:
            # (…unless it speaks to a part of the question the best one does not: 「1時間いくら？あと、どんな研修
            # でも対象？」 → the sentence on which training counts, even when said before)
            asked = set(weights) - _NAMES_NOTHING
            best = claims[0]
            claims = [
                c
                for c in claims
                if c is best
                or compact(c.sentence) not in heard
                or (tokens_of(c.sentence) & asked) - tokens_of(best.sentence)
            ]
        # The best first (「その利率はいつ時点の数字？」 → 「令和7年8月時点」), the rest in the card's order.
        claims = claims[:1] + [c for c in candidates if c in claims[1:]]
        # A step that only restates a sentence kept (「CISO等の責任者を任命し…」 after the direction that says it).
        steps = {id(c) for c in card.steps}
        claims = [
            c
            for i, c in enumerate(claims)
            if id(c) not in steps
            or not any(all(compact(q) in compact(k) for q in c.cites) for o in claims[:i] for k in o.cites)
        ]
        if agreeing is not None:  # only a sentence quoting one of these passage sentences
            claims = [c for c in claims if any(_same_passage(q, a) for q in c.cites for a in agreeing)]
        if who:
            claims = [c for c in claims if NAMED_ORG.search(c.sentence)]  # a name asked: sentences with one
        lines = [_full_stop(line) for c in claims if (line := self._cite_claim(book, c, hits, english))]
        quoted: list[str] = []
        if passages:
            own = [
                chunk
                for q in dict.fromkeys(q for c in card.claims() for q in c.cites)
                if (chunk := self.pool.find_chunk(q, [h.chunk for h in hits])) is not None
            ]
            # The topic's own passages: the search's best for the whole conversation may be on anything
            # (「安く使えるデジタルツール」 for 「その安い金利って誰でも使える？」).
            chunks = list({c.chunk_id: c for c in own}.values())
            picked = select_sentences(
                self.pool,
                chunks,
                weights,
                2 if wants_figure or not claims else 1,
                want_digits=wants_figure,
                exclude=[q for c in claims for q in c.cites] + [c.sentence for c in claims],
                min_overlap=PASSAGE_MIN_OVERLAP,
                query_vector=self.index.embed_query(question),
            )
            quoted = [
                quote_line(c.text, book.cite(c.chunk, c.text))
                for c in picked
                if not who or NAMED_ORG.search(c.text)
            ]
        # The card's sentences read as the answer itself; the passages' sentences (fragments of slides, as
        # written) are shown as quotes under a line that says so.
        # (in English one rendering per line, as the full answer lists them)
        answer = _as_body(lines, english)
        if not quoted:
            return answer
        intro = (
            ("The guides also say:" if answer else "On your point, the guides say:")
            if english
            else (
                "資料には次の記述もあります。"
                if answer
                else "ご質問の点について、資料には次のように書かれています。"
            )
        )
        return (answer + "\n\n" if answer else "") + intro + "\n" + "\n".join(f"- {line}" for line in quoted)

    def sources(
        self, card: Card, english: bool, book: CitationBook, hits: list[Hit], said: str, question: str = ""
    ) -> str:
        """「どの資料に書いてある？」: the passages the last answer's sentences rest on, each with its document,
        slide or page and heading (the topic's first sentences when the last answer's are not known). Asked
        which survey the figures come from (「その数字はどこの調査？」), each slide's own source line too."""
        heard = compact(strip_markers(said))
        heard_claims = [c for c in card.answer if compact(c.sentence) in heard]
        claims = heard_claims or card.answer
        places: dict[str, list[str]] = {}
        for quote in dict.fromkeys(q for c in claims[:SOURCE_CLAIMS] for q in c.cites):
            n = self._cite_quote(book, quote, hits)
            if n is None or len(compact(quote)) < SOURCE_MIN_CHARS:
                continue  # (a heading cited to place a sentence says nothing by itself)
            places.setdefault(_place(book.get(n), english), []).append(quote_line(quote, n))
        if SURVEY_ASKED.search(nfkc(question)):
            # The slide's own line naming the survey, for each figure the last answer gave (「824千円」).
            figures = re.findall(r"\d+(?:\.\d+)?(?:%|千円|万円|倍|社|名)", strip_markers(said))
            found = {(c.doc_id, c.page) for f in figures if (c := self.pool.find_chunk(f)) is not None}
            # (the line naming the survey may sit in another part of the same slide)
            for chunk in [c for c, _ in self.pool.compact_chunks if (c.doc_id, c.page) in found]:
                for line in SOURCE_LINE.findall(chunk.text):
                    n = book.cite(chunk, line.strip())
                    shown = places.setdefault(_place(book.get(n), english), [])
                    shown.append(quote_line(line.strip(), n)) if line.strip() not in "".join(shown) else None
        if not places:
            return ""
        lines = [
            f"- **{place}**\n" + "\n".join(f"  - {q}" for q in quotes) for place, quotes in places.items()
        ]
        # (a topic the last answer did not cover: where the guides say it)
        if english:
            intro = "The last answer rests on these passages:" if heard_claims else "The guides say so here:"
        else:
            intro = (
                "前の回答は、次の資料の記述にもとづいています。"
                if heard_claims
                else "ご質問の点は、次の資料に書かれています。"
            )
        return intro + "\n" + "\n".join(lines)

    def verdict_first(
        self, card: Card, question: str, english: bool, book: CitationBook, hits: list[Hit], detail: str
    ) -> str:
        """「研修中の給料も出るの？」: はい, and the card's sentence that says so, before the detail (not again
        in it); the detail as it is when the card has no はい/いいえ for the question."""
        verdict = self.verdict(card, question)
        line = self._cite_claim(book, verdict[0], hits, english) if verdict is not None else None
        if verdict is None or not line:
            return detail
        said = strip_markers(_full_stop(line))
        # (the detail's sentences, each with its markers, and its quoted lines: the verdict's not again)
        pieces = re.findall(r"[^。\n]*[。.](?:\[\d+\])*|[^\n]+|\n", detail)
        detail = "".join(p for p in pieces if strip_markers(p.removeprefix("- ")).strip() != said).strip()
        detail = "" if not strip_markers(detail).strip() else detail
        label = LABELS["en" if english else "ja"]
        return label[verdict[1]] + _full_stop(line) + ("\n\n" + detail if detail else "")

    def to_do(
        self,
        card: Card,
        english: bool,
        book: CitationBook,
        hits: list[Hit],
        lead: bool,
        heard: str = "",
        said: str = "",
    ) -> str:
        """「具体的に何をすれば？」 on a topic: its steps (after its first sentence, with `lead`): only those
        whose problems `heard` (what the user said) raised, and not those the last answer (`said`) gave."""
        lines = [
            line
            for c in unsaid_steps(card, said, heard)
            if (line := self._cite_claim(book, c, hits, english))
        ]
        if not lines:
            return ""
        first = self._cite_claim(book, card.answer[0], hits, english) if lead and card.answer else None
        steps = LABELS["en" if english else "ja"]["steps"] + "\n" + "\n".join(f"- {s}" for s in lines)
        return _full_stop(first) + "\n\n" + steps if first else steps

    def unanswered(
        self,
        card: Card,
        english: bool,
        book: CitationBook,
        hits: list[Hit],
        said: str,
        next_cards: list[Card],
        agencies: list[AgencyRecommendation],
    ) -> str:
        """A follow-up on `card` that neither the card nor any passage speaks to: said plainly; then what the
        guides do say on the topic and was not said yet (what they leave out, its steps), else questions on
        `next_cards` they do answer."""
        labels = LABELS["en" if english else "ja"]
        # (the topic's answer was just given: the guides say no more than that, which is not the same as
        # saying nothing — 「結果が出たらどう使うの？」 right after the index's answer)
        parts = [labels["unanswered_more" if said_any(card, said) else "unanswered"]]
        gap = card.gap(english)
        if gap and compact(gap) not in compact(strip_markers(said)):
            parts.append(labels["gap"] + gap)
        steps = [line for c in unsaid_steps(card, said) if (line := self._cite_claim(book, c, hits, english))]
        if steps:
            parts.append(labels["advised"] + "\n" + "\n".join(f"- {s}" for s in steps))
        elif next_cards:
            examples = [
                next((q for q in c.questions if is_mostly_ascii(q) == english), c.title) for c in next_cards
            ]
            parts.append(labels["ask_next"] + "\n" + "\n".join(f"- 「{q}」" for q in examples))
        if agencies:
            parts.append(self._agency_section(agencies, labels["agencies"], detailed=1, english=english))
        return "\n\n".join(parts)

    def term(self, term: str, english: bool, book: CitationBook, firm: bool = False) -> str:
        """What the guides say where they use a term (「RFP」「BPO」): its sentences, or the list it is an item
        of, and whether they explain it. Empty when the guides never use it. A `firm` (「樋口製作所」): what it
        does is what the guides may not say."""
        found: list[tuple[Any, list[str], str]] = []  # (chunk, quotes, shown)
        explained = False
        for chunk in self.index.chunks:
            if term not in chunk.text:
                continue
            pooled = [c.text for c in self.pool.by_chunk.get(chunk.chunk_id, [])]
            sentences = [
                (i, text)
                for i, text in enumerate(pooled)
                if term in text and len(text) >= len(term) + TERM_CONTEXT  # not 「PMO支援6」
            ]
            for i, sentence in sentences[:TERM_PLACES]:
                quotes = [sentence]
                if len(sentence) < TERM_SHORT and i + 1 < len(pooled) and pooled[i + 1].endswith("。"):
                    # 「…「Ibaraki DX Community事業」を実施。」 goes on: 「参画機関それぞれの知見を持ち寄り…」
                    quotes.append(pooled[i + 1])
                found.append((chunk, quotes, "".join(quotes)))
                explained = explained or bool(
                    re.search(re.escape(term) + r"\s*[（(]|" + re.escape(term) + "とは", sentence)
                )
            if not sentences:
                # A list item (「• RFP作成」): quoted with the items around it, so the place reads as a step.
                lines = [ln for ln in chunk.text.split("\n") if ln.strip()]
                at = next(i for i, ln in enumerate(lines) if term in ln)
                items = [
                    i
                    for i in range(max(0, at - TERM_ITEMS), min(len(lines), at + TERM_ITEMS + 1))
                    if _BULLET.match(lines[i])
                ]
                if at not in items:
                    items = [at]
                # One quote per item: the index may hold a slide's lines in another order than the corpus file.
                quotes = [_BULLET.sub("", lines[i]).strip() for i in items]
                found.append((chunk, quotes, "・".join(quotes)))
            if len(found) >= TERM_PLACES:
                break
        # The labels of a figure (「Ibaraki DX Communityいばらき中小企業」) only when no sentence uses the term.
        found = [f for f in found if f[2].endswith("。")] or found
        if not found:
            return ""
        chunk = found[0][0]
        place = f"スライド/ページ{chunk.page}「{chunk.heading}」" if chunk.page else f"「{chunk.heading}」"
        if any(c.chunk_id != chunk.chunk_id for c, _, _ in found):
            place += "など"
        if english:
            lines = [f'The guides use "{term}" in these places (in Japanese):']
        else:
            lines = [f"「{term}」は、資料では{place}に、次のように出てきます。"]
        lines += [
            f"- {shown}" + "".join(f"[{book.cite(c, q)}]" for q in quotes)
            for c, quotes, shown in found[:TERM_PLACES]
        ]
        if firm:
            lines.append(
                f'The guides say nothing more about what "{term}" does.'
                if english
                else f"「{term}」の取組の内容は、資料には書かれていません。"
            )
        elif not explained and re.fullmatch(r"[A-Za-z]{2,8}", term):
            # (Only an abbreviation is plainly unexplained without a gloss: a named programme such as
            # 「Ibaraki DX Community」 is described by the sentences around it.)
            lines.append(
                f'The guides do not explain what "{term}" means beyond this.'
                if english
                else f"「{term}」が何を指すかの説明は、資料には書かれていません。"
            )
        return "\n".join(lines)

    def _passages_section(
        self, card: Card, question: str, hits: list[Hit], book: CitationBook, title: str
    ) -> str:
        """For a specific question (a figure, a name), the passage sentences that answer it verbatim,
        when the card's sentences do not already quote them."""
        wants_figure = bool(WANTS_FIGURE.search(nfkc(question)))
        taken = [q for c in card.claims() for q in c.cites] + [c.sentence for c in card.claims()]
        picked = select_sentences(
            self.pool,
            [h.chunk for h in hits[:PASSAGE_CHUNKS]],
            self.pool.weights(question),
            2 if wants_figure else 1,
            want_digits=wants_figure,
            exclude=taken,
            min_overlap=PASSAGE_MIN_OVERLAP,
            query_vector=self.index.embed_query(question),
        )
        if not picked:
            return ""
        return title + "\n" + "\n".join(f"- {quote_line(c.text, book.cite(c.chunk, c.text))}" for c in picked)

    def grounded(self, body: str, book: CitationBook) -> str:
        """Drop every cited sentence that its quotes do not support (logged: a card or catalog bug)."""
        quotes = {c.n: c.quote for c in book.citations}
        bad = [c for c in check_answer(body, quotes) if not c.grounded]
        for check in bad:
            log.warning("unsupported sentence dropped (%s): %s", check.why, check.sentence[:60])
            body = body.replace(check.sentence, "")
        body = "\n".join(line for line in body.split("\n") if not re.fullmatch(r"\s*[-*+]\s*", line))
        return re.sub(r"\n{3,}", "\n\n", body).strip()

    def _region_selected(
        self, regions: list[str], book: CitationBook, hits: list[Hit], english: bool = False
    ) -> str:
        """「燕市・新潟県は地域DX推進ラボ選定地域です。」 with the guides' list as its evidence."""
        listing = self._region_listing(regions[0])
        heading = self._cite_quote(book, "地域DX推進ラボ選定地域", hits)
        if listing is None or heading is None:
            return ""
        n = book.cite(listing.chunk, listing.text)
        ja = f"{'・'.join(regions)}{SELECTED}"
        if english:
            ja = f"{'・'.join(regions)} is on the list of Regional DX Promotion Lab areas.（日本語: {ja.rstrip('。')}）"
        return f"{ja}[{heading}][{n}]"

    def _selected_when(self, regions: list[str], book: CitationBook, hits: list[Hit], english: bool) -> str:
        """「札幌市は第1弾（2023年4月）の選定です。」 from the mark after the place in the guides' list (❶❷❸)
        and the line that dates that round."""
        lines = []
        for region in regions:
            mark = next((m for m in _ROUNDS if self.pool.find_chunk(region + m) is not None), None)
            if mark is None:
                continue
            n, round_quote, date, date_en = _ROUNDS[mark]
            n_place = self._cite_quote(book, region + mark, hits)
            n_round = self._cite_quote(book, round_quote, hits)
            if not (n_place and n_round):
                continue
            ja = f"{region}は第{n}弾（{date}）の選定です。"
            if english:
                ja = f"{region} was selected in round {n} ({date_en}).（日本語: {ja.rstrip('。')}）"
            lines.append(f"{ja}[{n_place}][{n_round}]")
        return "\n".join(lines)

    def _selected_home(self, card: Card, question: str, book: CitationBook, cards: tuple[str, ...]) -> str:
        """Under one of `cards`, the selected companies of the prefecture the asking sentence names (「岐阜の
        会社って選ばれてた？」), or nothing."""
        home = named_prefecture(asked_part(question)) if card.id in cards else None
        return self._selected_in(home, book) if home else ""

    def _selected_in(self, place: str, book: CitationBook) -> str:
        """「「DXセレクション2025」企業一覧にある岐阜県の企業は、株式会社樋口製作所、内藤建設株式会社です。」
        from the guides' table of selected companies (its heading and rows are the evidence), or that the
        table names none there."""
        whole = place + prefecture_suffix(place)
        chunks = self.index.chunks
        for at, chunk in enumerate(chunks):
            if SELECTION_TABLE not in [line.strip() for line in chunk.text.splitlines()]:
                continue
            # The table goes on in the next chunks of its slide (「15 株式会社白海 福岡県」 is in the second).
            table = [chunk]
            for later in chunks[at + 1 :]:
                if (later.doc_id, later.page) != (chunk.doc_id, chunk.page):
                    break
                table.append(later)
            # (chunks overlap: a row at the seam is in both, and cited once)
            found = {
                line.strip(): part
                for part in reversed(table)
                for line in part.text.splitlines()
                if re.fullmatch(rf"\d+\s+(\S+)\s+{whole}", line.strip())
            }
            rows = sorted(((part, row) for row, part in found.items()), key=lambda r: int(r[1].split()[0]))
            if not rows:
                return f"{SELECTION_TABLE}には、{whole}の企業は見当たりません。"
            names = "、".join(row.split()[1] for _, row in rows)
            markers = f"[{book.cite(chunk, SELECTION_TABLE)}]" + "".join(
                f"[{book.cite(part, row)}]" for part, row in rows
            )
            return f"{SELECTION_TABLE}にある{whole}の企業は、{names}です。{markers}"
        return ""

    def _region_listing(self, region: str) -> Any:
        """The guides' list of selected lab regions that names `region` (the evidence for the claim)."""
        for cands in self.pool.by_chunk.values():
            for cand in cands:
                if region in cand.text and _lists_places(cand.text):
                    return cand
        return None

    def compose(
        self,
        intent: Intent,
        question: str,
        context: str,
        expansions: list[str],
        hits: list[Hit],
        book: CitationBook,
        agencies: list[AgencyRecommendation],
        must_name: frozenset[str] | None = None,
    ) -> str:
        """The passages themselves, framed by intent. With `must_name`, empty when none of the related
        passages picked contains any of those words (they would not speak to the question)."""
        chunks = [h.chunk for h in hits]
        # The question's own words count fully; earlier turns (in a follow-up) at half weight.
        weights = self.pool.weights(question, expansions + ([context] if context != question else []))
        want_digits = bool(WANTS_FIGURE.search(nfkc(question)))
        qvec = self.index.embed_query(context)
        parts: list[str] = []

        def quoted(cands: list[Any]) -> list[str]:
            return [f"- {quote_line(c.text, book.cite(c.chunk, c.text))}" for c in cands]

        if intent in ("agency", "region"):
            regions = find_regions(question, self.regions)
            parts.append(self._agency_section(agencies, "### おすすめの相談先", detailed=2))
            picked = select_sentences(
                self.pool,
                chunks[:6],
                weights,
                SENTENCES["agency"],
                exclude=[q for a in agencies for q in [c.quote for c in a.citations]],
                # (only sentences that speak to the question: 「生コン車の配車状況を…」 is no help on whom to ask)
                min_overlap=PASSAGE_MIN_OVERLAP,
                query_vector=qvec,
            )
            if picked:
                parts.append("### 資料の記述\n" + "\n".join(quoted(picked)))
            # (a place named, not 「いくつの地域が選定されて…」 nor the asker's own 「県の産業振興課」)
            if intent == "region" and not regions and NAMED_PLACE.search(nfkc(question)):
                parts.insert(
                    0, "ご質問の地域は、資料にある地域DX推進ラボの選定地域の一覧には見当たりませんでした。"
                )
        elif intent == "clause":
            heading = chunks[0].heading if chunks else None
            picked = select_sentences(
                self.pool,
                chunks[:5],
                weights,
                SENTENCES["clause"],
                want_digits=want_digits,
                query_vector=qvec,
            )
            title = (
                f"### {expansions[-1]}"
                if expansions and PILLAR.search(nfkc(question))
                else f"### {heading or '該当箇所'}"
            )
            parts.append(title + "\n" + "\n".join(quoted(picked)))
        else:
            # Fragments that read as nothing on their own are no answer: a list of places, a slide's credit
            # line (「…より抜粋」), an example complaint (「相談相手がいない...」).
            unreadable = [
                c.text
                for chunk in chunks[:6]
                for c in self.pool.by_chunk.get(chunk.chunk_id, [])
                if not reads_alone(c.text)
            ]
            picked = select_sentences(
                self.pool,
                # (a case study's slide — 後藤組 under 「DXセレクション」 — only where the case speaks)
                [c for c in chunks[:6] if not (CASE.search(c.heading or "") or "後藤組" in c.text)]
                or chunks[:6]
                if not (ASKS_CASE.search(nfkc(question)) or CASE_CONTEXT.search(nfkc(context)))
                else chunks[:6],
                weights,
                SENTENCES["fact"],
                want_digits=want_digits,
                exclude=unreadable,
                query_vector=qvec,
            )
            if must_name is not None and not any(
                must_name & set(content_words(c.text)) or any(w in c.text for w in must_name) for c in picked
            ):
                return ""
            parts.append(
                "### 資料の関連する記述\n"
                "ご質問に直接答える助言は用意がないため、資料の中で関連する記述をそのまま示します。\n"
                + "\n".join(quoted(picked))
            )
            parts.append(self._agency_section(agencies, "### 関連する相談先", detailed=1))
        return "\n\n".join(p for p in parts if p.strip())

    @staticmethod
    def _agency_section(
        agencies: list[AgencyRecommendation],
        title: str,
        detailed: int,
        english: bool = False,
        others_shown: int = 1,
    ) -> str:
        """The first `detailed` agencies with reason and what to bring; the rest with their reason."""
        if not agencies:
            return ""
        label = LABELS["en" if english else "ja"]
        lines = [title]
        for a in agencies[:detailed]:
            lines.append(f"**{a.name}**: {a.reason}" if a.reason else f"**{a.name}**")
            if a.what_to_ask:
                lines.append(label["tell"] + "\n" + "\n".join(f"- {w}" for w in a.what_to_ask[:3]))
        others = [
            f"- **{a.name}**: {a.reason}" for a in agencies[detailed : detailed + others_shown] if a.reason
        ]
        if others:
            lines.append(label["others"] + "\n" + "\n".join(others))
        return "\n\n".join(lines)

    def _cite_passage(self, book: CitationBook, chunk: Any, sentence: str) -> int:
        """Cite the passage sentence a claim quotes (verbatim), else the one that supports it best."""
        claim = compact(strip_markers(sentence))
        same = [c for c in self.pool.by_chunk.get(chunk.chunk_id, []) if claim and claim in compact(c.text)]
        if same:
            return book.cite(chunk, same[0].text)
        if claim and claim in compact(chunk.text):
            return book.cite(chunk, strip_markers(sentence))
        best = select_sentences(self.pool, [chunk], self.pool.weights(sentence), 1)
        return book.cite(chunk, best[0].text if best else chunk.text)

    def llm_body(
        self,
        backend: Any,
        question: str,
        messages: list[Message],
        hits: list[Hit],
        book: CitationBook,
        stage: StageEstimate | None,
        agencies: list[AgencyRecommendation],
        card: Card | None = None,
    ) -> tuple[str | None, str | None]:
        """LLM mode: write from the passages (the matched card's quoted passages first), keep only
        verified sentences.

        Returns (body, notice); body is None when the extractive answer must be used instead.
        """
        from bot.llm import llm_answer
        from ground.errors import LLMError

        top = [h.chunk for h in hits[:5]]  # already led by the card's passages (_ranked)
        passages = [citation_for(c, i, c.text) for i, c in enumerate(top, start=1)]
        try:
            verified = llm_answer(backend, question, messages[:-1], passages)
        except LLMError as exc:
            log.warning("LLM answer unusable, falling back to extractive: %s", exc.message)
            return None, f"LLMの回答を使えなかったため、抜粋モードで回答しました（{exc.message}）"
        # Each sentence's passage markers become citations of the sentence of that passage it rests on
        # (the one it quotes, else the one supporting it best): per sentence, since two claims may cite
        # different sentences of one passage.
        text = str(verified)
        for sentence in verified.kept:
            mapping: dict[int, int] = {}
            for marker in parse_markers(sentence.sentence):
                if 1 <= marker <= len(top):
                    mapping[marker] = self._cite_passage(book, top[marker - 1], sentence.sentence)
            if mapping:
                remarked = re.sub(
                    r"\[(\d+)\]",
                    lambda m, mp=mapping: f"[{mp.get(int(m.group(1)), int(m.group(1)))}]",  # type: ignore[misc]
                    sentence.sentence,
                )
                text = text.replace(sentence.sentence, remarked, 1)
        parts = []
        if stage is not None:
            parts.append(f"### 現在地\n{stage.reason}")
        parts.append("### 回答\n" + text)
        if agencies:
            parts.append(self._agency_section(agencies, "### 相談先", detailed=1))
        notice = None
        if verified.dropped:
            notice = f"出典で裏付けられなかった {len(verified.dropped)} 文を回答から除きました。"
        return "\n\n".join(parts), notice
