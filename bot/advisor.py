"""The advisor: route → retrieve → stage/agency → extractive (or verified LLM) answer with citations."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from bot import catalog
from bot.agencies import AgencyMatch, match_agencies
from bot.cards import Card, Claim
from bot.compose import (
    CitationBook,
    SentencePool,
    citation_for,
    near_duplicate,
    quote_line,
    select_sentences,
    sources_section,
)
from bot.counsel import (
    CARD_MIN_SCORE,
    MONEY,
    PILLAR,
    STATES_COST,
    VIEWPOINT,
    CardHit,
    CardIndex,
    TurnState,
    choose_card,
    claim_text,
    is_follow_up,
    names_subject,
    uncovered,
    wants_verbatim,
)
from bot.grounding import check_answer, tokens_of
from bot.retrieve import Hit, SearchIndex, check_query
from bot.route import IntentRouter, find_regions, is_injection, is_off_topic, route_intent
from bot.schemas import AgencyRecommendation, ChatResponse, Intent, Message, RetrievedChunk, StageEstimate
from bot.stage import StageMatch, estimate_stage
from bot.vectors import cache_path, question_vectors
from bot.verify import parse_markers, strip_markers
from ground.errors import QueryError
from ingest.normalize import compact, nfkc

if TYPE_CHECKING:
    from ground.config import Settings

log = logging.getLogger(__name__)

_WANTS_FIGURE = re.compile(
    r"何%|何％|何パーセント|何割|いくら|何円|利率|金利|何社|何地域|何人|何件|何位|割合|どのくらい|どれくらい|上限|最大|率|いつ|何年|how much|how many|rate|percent|when"
)

REFUSAL_HELP = (
    "DXナビがお手伝いできること:\n"
    "- DXを何から始めればよいか（デジタル活用の4段階と最初の一歩）\n"
    "- 相談先（地域金融機関・ITコーディネータ・商工会議所などの支援機関）の選び方\n"
    "- デジタルガバナンス・コード3.0の視点と柱、DX推進指標、DX認定、DXセレクションの内容"
)


# Refusal thresholds, calibrated on the tune split of the gold set (confusion matrix in README).
SCOPE_DENSE = 0.845  # best e5 cosine of the top passages
SCOPE_OVERLAP = 0.3  # share of the question's IDF weight found in the top passages
SCOPE_DENSE_ENGLISH = 0.78
_ENGLISH_DOMAIN = re.compile(
    r"\b(dx|digital|certif\w*|governance|it|sme|smes|support|bank|loan|selection|pillar|coordinator|subsid\w*"
    r"|guidance|transformation|index|stage|system|software|consult\w*|advis\w*|vendor|grant|training|rate"
    r"|interest|guarantee|lab|labs|region\w*|cyber\w*|security)\b",
    re.IGNORECASE,
)


def is_mostly_ascii(text: str) -> bool:
    letters = [ch for ch in text if not ch.isspace()]
    return bool(letters) and sum(ch.isascii() for ch in letters) / len(letters) > 0.6


# How many quoted sentences each kind of answer carries (besides stage and agency lines).
SENTENCES: dict[str, int] = {"agency": 2, "clause": 4, "fact": 4}

# Words the guides use for what each kind of question is about: they steer the lexical side of
# retrieval (and sentence choice, at half weight) toward the passages that answer that kind of question.
INTENT_HINTS: dict[str, list[str]] = {
    "start": ["身の回りの業務のデジタル化から始め", "身近なところから始め成功体験", "支援機関の伴走支援"],
    "agency": ["支援機関の活用", "支援機関"],
    "region": ["地域DX推進ラボ", "支援機関の活用"],
}


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
# The chart line that names each stage and its number (「段階1（全くの未着手）：30.8%」).
_STAGE_LABEL_QUOTES: dict[int, str] = {
    1: "段階1（全くの未着手）",
    2: "段階2（デジタイゼーション）",
    3: "段階3（デジタライゼーション）",
    4: "段階4（DX）",
}
# The two parts of a DGC pillar: its 柱となる考え方 (「企業は…」「経営者は…」) and its 望ましい方向性.
_CLAUSE_PART = {
    "principle": re.compile(r"柱となる考え方|考え方|principle"),
    "direction": re.compile(r"望ましい方向性|方向性|desirable|direction"),
}


def _full_stop(sentence: str) -> str:
    """「…繋がる[6]」→「…繋がる。[6]」: a sentence in running text ends with 。 before its markers."""
    text = re.sub(r"(\[\d+\])+$", "", sentence)
    markers = sentence[len(text) :]
    if text and not text.endswith(("。", "！", "？", ".", "!", "?", ")", "）")):
        text += "。"
    return text + markers


def _clause_part(claim: Claim) -> str:
    return "principle" if re.match(r"(企業|経営者)は、", nfkc(claim.sentence)) else "direction"


_ASKS_SUPPORT = re.compile(r"ラボ|拠点|支援|相談|窓口|どこ|頼")
# Asking where or how to begin (the general start card answers it when nothing fits better).
_STARTING = re.compile(
    r"何から|なにから|始め|はじめ|第一歩|最初|取り掛か|取りかか|手をつけ|where to start|get started"
)
# An owner speaking about their own business (not a supporter asking how to support).
_OWNER_VOICE = re.compile(
    r"うち|弊社|当社|わが社|我が社|うちの店|従業員|社員|パート|職人|\b(we|our|us)\b", re.IGNORECASE
)
# Digital tools and work an owner may describe, and the business they describe it in.
_DIGITISING = re.compile(
    r"POS|レジ|システム|タブレット|アプリ|クラウド|パソコン|ソフト|デジタル|IT|DX|ペーパーレス|電子化|ネット(予約|販売)",
    re.IGNORECASE,
)
_BUSINESS = re.compile(
    r"(店|会社|工場|事務所|事業所|旅館|医院|農園|法人)(を|で|は|です|をして|を経営|をやって)"
)
_ASKS_WHO = re.compile(
    r"相談|どこに|どこへ|誰に|だれに|頼め|頼む|頼ん|手伝っ|手伝い|助けてくれる(ところ|人)|支援してくれる"
    r"|\bwho\b|\bwhere\b",
    re.IGNORECASE,
)
# Asking whether DX concerns the business at all (「うちくらいの規模でも関係ある？」「こういうのもDXの話になるの？」).
_RELEVANCE = re.compile(
    r"関係(ある|あり|ない|する)|意味(って|は|が)?(ある|あり)|(DX|デジタル化)の話になる|DXで(何とか|なんとか|解決|変わる)"
    r"|(取り組む|やる|する)(意味|必要|価値)|必要(ある|あり|なの)"
    r"|(小さ(い|な)|小規模(な|の)?)(会社|店|工場|事業所|事務所|企業)(でも|にも)(DX|デジタル)"
    r"|does (dx|it) (matter|apply)|is (dx|it) (relevant|worth)",
    re.IGNORECASE,
)
# Cards that answer the general question: an owner who describes the business and asks where to start
# (or whether DX concerns them) is answered for their own stage instead.
_GENERAL_CARDS = frozenset(
    {"start-general", "why-dx", "dx-what", "dx-vs-it", "management-leads", "success-points", "dx-process"}
)
# A question about supporting SMEs (the staff cards' subject), not about the asker's own business.
_ABOUT_SUPPORT = re.compile(r"支援|伴走|主治医|PMO|連携|事例")
# Asking what a named agency does or whether to consult it.
_ROLE = re.compile(
    r"役割|メリット|何をしてくれ|何をしてもら|どんな支援|何が頼め|頼める|相談しても|相談して(も)?いい|どう[？?]|はどう"
)
# Case-study slides (後藤組, the support cases): quoted only when the question asks for an example.
_CASE = re.compile(r"事例|後藤組|選定企業|DXセレクション2025")
_ASKS_CASE = re.compile(
    r"事例|例え|例は|例って|実例|後藤組|常陽|長野|どんな会社|どんな企業|会社の例|企業の例|その会社|その企業|同社|example|case"
)
# Asking for a price or an amount the guides may not give.
_HOW_MUCH = re.compile(
    r"いくら|どれくらいかか|どのくらいかか|費用|値段|価格|料金|コスト|how much|what.{0,20}cost", re.IGNORECASE
)
_PLACE = re.compile(r"[都道府県市区町村]|地域|地元")  # the owner already said where they are
SCOPE_MARGIN = 0.05
SCOPE_CARD_DENSE = 0.85  # … and whose example questions are close in meaning (not only a shared word)
STAFF_MARGIN = 0.05  # support staff get a staff card a little below the usual bar
OWNER_MARGIN = 0.02  # an owner gets an owner's card over a staff card that is at most this much better
# Support staff describing their own role (a bank's account manager, a 商工会 adviser, a tax office).
_SUPPORTER = re.compile(
    r"経営指導員|支援担当|融資(を)?担当|支援機関の(立場|職員|側|担当)|支援する側|支援者として|(支援|担当|指導|相談を受け|アドバイス)(して|を)(い|お)ます|(支援|指導|アドバイス)をして(い|お)(ます|ります)|取引先の(DX|支援|企業)"
    r"|顧問先|支援先|会員さん|会員企業|(銀行|信用金庫|信金|信組|商工会議所|商工会|中央会|事務所)で(法人営業|営業|融資|渉外|経営指導|支援|相談)|(銀行|信用金庫|信金|信組|商工会議所|商工会|税理士事務所|会計事務所|社労士事務所"
    r"|コンサル会社)(で|に)(勤め|働い|勤務|所属)|(銀行員|職員|税理士|社労士|診断士|ITコーディネータ)(です|をして)"
    r"|we support|our clients"
)


def is_supporter(text: str) -> bool:
    """The message comes from someone who supports SMEs, not from an owner asking for their own firm."""
    return bool(
        _SUPPORTER.search(nfkc(text))
    )  # a card match this far above CARD_MIN_SCORE is evidence the question is in scope


# How the answer's card reorders the search hits (measured on the tune split, README「評価」).
RANK_CLAIMS = 1  # quotes of the first claims of the card's answer …
RANK_FRONT = 1  # … at most this many passages …
RANK_AFTER = 1  # … placed after the best search hit
PASSAGE_CHUNKS = 3  # a specific question may add verbatim sentences from the top passages …
PASSAGE_MIN_OVERLAP = 0.3  # … that share at least this much of its (IDF-weighted) words
REASON_CHOICES = 2  # an agency's reason is one of its card's first sentences
DETAIL_CLAIMS = 2  # a follow-up on a detail gets at most this many of the card's sentences
BRING_ITEMS = 2  # what to bring, under an answer (the whole list when asked for it)
_CARD_INTENT: dict[str, Intent] = {
    "start": "start",
    "agency": "agency",
    "region": "region",
    "clause": "clause",
    "topic": "fact",
    "staff": "fact",
}
_LABELS: dict[str, dict[str, str]] = {
    "ja": {
        "notice": "",
        "bring": "### {name}に相談するときに伝えること・持っていくもの",
        "stage": "### 現在地",
        "steps": "### 次の一歩",
        "first_steps": "### 最初の一歩",
        "agencies": "### 相談先",
        "gap": "※ 資料に書かれていないこと: ",
        "passages": "### 資料の該当箇所",
        "tell": "相談するときに伝えること:",
        "fallback": "",
        "others": "ほかの相談先:",
    },
    "en": {
        "notice": (
            "dxnavi reads Japanese government guides, so each sentence below is our English rendering "
            "followed by the Japanese it renders; the quoted sources are in Japanese."
        ),
        "bring": "### What to tell or bring to {name}",
        "stage": "### Where you stand",
        "steps": "### Next steps",
        "first_steps": "### First steps",
        "agencies": "### Whom to ask",
        "gap": "Not covered by the guides: ",
        "passages": "### The passages themselves (Japanese)",
        "tell": "What to tell them:",
        "fallback": (
            "No prepared answer matches your question, so here are the passages of the guides (in Japanese) "
            "that relate to it."
        ),
        "others": "Others to ask:",
    },
}


@dataclass(frozen=True)
class StreamEvent:
    """`delta` events carry answer text; the last event is `final` with the whole response."""

    kind: str
    text: str = ""
    response: ChatResponse | None = None


@lru_cache(maxsize=1)
def synonym_groups() -> list[tuple[list[str], list[str]]]:
    """(words that trigger, words added): a plain list works both ways; {en, ja} goes English → Japanese."""
    raw = yaml.safe_load((catalog.DATA_DIR / "synonyms.yaml").read_text(encoding="utf-8"))
    groups = []
    for entry in raw:
        if isinstance(entry, dict):
            groups.append(([nfkc(w).lower() for w in entry["en"]], [nfkc(w).lower() for w in entry["ja"]]))
        else:
            words = [nfkc(w).lower() for w in entry]
            groups.append((words, words))
    return groups


def expansions_for(text: str) -> list[str]:
    """Guide wording for the owner's words (synonyms) and clause names for 「柱3-3」-style references."""
    lowered = nfkc(text).lower()
    out: list[str] = []
    for triggers, added in synonym_groups():
        if any(w in lowered for w in triggers):
            out.extend(w for w in added if w not in lowered and w not in out)
    clauses = catalog.clauses()
    for match in PILLAR.finditer(nfkc(text)):
        key = re.sub(r"\s|の|ー|－", "-", next(g for g in match.groups() if g)).replace("--", "-")
        if key in clauses.pillars:
            out.append(clauses.pillars[key])
    for match in VIEWPOINT.finditer(nfkc(text)):
        key = {"①": "1", "②": "2", "③": "3"}.get(match.group(1), match.group(1))
        if key in clauses.viewpoints:
            out.append(clauses.viewpoints[key])
    return out


class Advisor:
    """Answers a conversation from the index. Create once (models load here); `ask` is thread-safe."""

    def __init__(self, settings: Settings, index: SearchIndex, backend: Any = None) -> None:
        self.settings = settings
        self.index = index
        self.pool = SentencePool(index.chunks, index.embedder.embed_documents, index.sentence_vectors())
        self.backend = backend
        self.regions = catalog.lab_regions()
        # Example questions (router, advice cards) are embedded once per model and kept on disk; they
        # bypass the query cache, which is for questions users actually ask.
        cache = cache_path(settings.data_dir / "cache", getattr(index.embedder, "model_id", "model"))
        embedder = index.embedder
        embed_many = getattr(embedder, "embed_queries", None) or (
            lambda qs: np.vstack([embedder.embed_query(q) for q in qs])
        )
        self.router = IntentRouter(lambda qs: question_vectors(qs, embed_many, cache), self.regions)
        self.cards = CardIndex(embed_many, cache, lambda t: self.pool.idf.get(t, self.pool.default_idf))
        self.cards.locate(lambda q: chunk.chunk_id if (chunk := self.pool.find_chunk(q)) else None)
        agency_steps = [c.sentence for card in self.cards.cards if card.kind == "agency" for c in card.steps]
        self._shared_steps = {t for t in agency_steps if agency_steps.count(t) > 1}

    @classmethod
    def from_settings(cls, settings: Settings) -> Advisor:
        from ingest.embed import embedder_from_settings

        index = SearchIndex(settings, embedder_from_settings(settings))
        backend = None
        if settings.llm_backend != "none":
            from bot.llm import create_backend

            backend = create_backend(settings)
        return cls(settings, index, backend)

    # ----------------------------------------------------------------------------------------
    def check_messages(self, messages: list[Message]) -> list[Message]:
        if not messages:
            raise QueryError("メッセージがありません。質問を入力してください。")
        if len(messages) > self.settings.max_messages:
            raise QueryError(
                f"会話が長すぎます（{len(messages)}件）。{self.settings.max_messages}件以内にしてください。"
            )
        if messages[-1].role != "user":
            raise QueryError("最後のメッセージはユーザーの質問にしてください。")
        # Every user turn is checked and cleaned once, here at the edge (earlier turns are embedded too).
        return [
            Message(role="user", content=check_query(m.content, self.settings.max_message_chars))
            if m.role == "user"
            else m
            for m in messages
        ]

    def ask(self, messages: list[Message]) -> ChatResponse:
        started = time.perf_counter()
        messages = self.check_messages(messages)
        response = self._answer(messages)
        response.latency_ms = round((time.perf_counter() - started) * 1000, 2)
        return response

    def stream(self, messages: list[Message]) -> Iterator[StreamEvent]:
        """Answer text in pieces (line by line), then the final response."""
        response = self.ask(messages)
        for line in response.answer.splitlines(keepends=True):
            yield StreamEvent("delta", text=line)
        yield StreamEvent("final", response=response)

    # ----------------------------------------------------------------------------------------
    def _answer(self, messages: list[Message]) -> ChatResponse:
        # Earlier refused turns (injection, off-topic) never steer later answers.
        user_turns = [
            m.content
            for m in messages[:-1]
            if m.role == "user" and not (is_injection(m.content) or is_off_topic(m.content))
        ] + [messages[-1].content]
        question = user_turns[-1]
        english = is_mostly_ascii(question)
        qvec = self.index.embed_query(question)
        previous = self._replay(user_turns[:-1])
        follow = is_follow_up(question, previous)
        hits, intent, context, expansions = self._search(question, qvec, user_turns, previous)
        situation = " ".join(user_turns)
        if intent == "out_of_scope" or is_injection(question):
            return self._refusal(
                intent_reason="injection" if is_injection(question) else "scope",
                retrieved=[self._retrieved(h) for h in hits],
            )
        passages = [h.chunk.chunk_id for h in hits]
        card, why, best = self._resolve(question, qvec, previous, " ".join(user_turns), passages)
        described = estimate_stage(question)
        # In scope: the question itself, a follow-up read with the turn before it (「And the normal
        # rate?」), an owner describing the business, or a clear match with an advice card.
        in_scope = (
            self._in_scope(question, hits, expansions)
            or (follow and self._in_scope(context, hits, expansions))
            or (follow and previous is not None and previous.card is not None)
            or described is not None
            or (
                best is not None
                and best.score >= CARD_MIN_SCORE + SCOPE_MARGIN
                and best.dense >= SCOPE_CARD_DENSE
            )
        )
        if not in_scope:
            return self._refusal(intent_reason="scope", retrieved=[self._retrieved(h) for h in hits])
        hits = self._ranked(hits, card)
        book = CitationBook(urls=dict(self.index.urls))
        stage_match = self._stage_match(question, situation, card)
        stage = self._stage(stage_match, book, hits) if stage_match else None
        routed = intent
        if card is not None and not (
            card.kind in ("topic", "staff") and routed in ("agency", "start", "region")
        ):
            intent = _CARD_INTENT[card.kind]
        elif (
            intent in ("fact", "clause") and len(user_turns) > 1 and re.search(r"相談|どこに|誰に", question)
        ):
            intent = "agency"
        agencies = self._recommend(
            card, routed, question, situation, book, hits, why, previous if follow else None
        )
        mode = "extractive"
        notice: str | None = None
        body: str | None = None
        if self.backend is not None:
            body, notice = self._llm_body(question, messages, hits, book, stage, agencies, card)
            mode = "llm" if body is not None else "extractive"
        if body is None:
            if card is not None:
                body = self._card_body(card, why, question, english, book, hits, stage, agencies, previous)
            if not body:
                # No card fits: the passages themselves, framed as such (a start question gets no stitched
                # "first steps" from them).
                plain: Intent = intent
                if intent == "start" or (intent == "agency" and not _ASKS_WHO.search(nfkc(question))):
                    plain = "fact"  # the router's vote alone does not turn passages into a list of agencies
                body = self._compose(plain, question, context, expansions, hits, book, agencies)
                if english:
                    body = _LABELS["en"]["fallback"] + "\n\n" + body
        body = self._grounded(body, book)
        body = book.renumber(body)
        book.prune(body)
        for a in agencies:
            a.reason = book.rewrite(a.reason)
            a.what_to_ask = [book.rewrite(w) for w in a.what_to_ask]
        if stage is not None:
            stage.reason = book.rewrite(stage.reason)
        answer = "\n\n".join(part for part in [body, sources_section(book)] if part)
        kept = {id(c) for c in book.citations}
        return ChatResponse(
            message_id=uuid.uuid4().hex,
            answer=answer,
            citations=book.citations,
            # Only what the answer shows: an agency or stage whose citations were all kept (pruned ones
            # belong to parts the text left out).
            agencies=[a for a in agencies if all(id(c) in kept for c in a.citations)],
            stage=stage if stage is not None and all(id(c) in kept for c in stage.citations) else None,
            intent=intent,
            refused=False,
            retrieved=[self._retrieved(h) for h in hits],
            mode=mode,  # type: ignore[arg-type]
            notice=notice,
            topic=card.id if card is not None else None,
        )

    # --- conversation ------------------------------------------------------------------------
    def _choose(
        self, question: str, qvec: np.ndarray, previous: TurnState | None, passages: list[str]
    ) -> tuple[Card | None, str]:
        matches = match_agencies(question, limit=11)
        # The agency the owner names (「信金」「税理士さん」), not one whose topic words they use (「セキュリティ」).
        lowered = nfkc(question).lower()
        named = next((m.agency.id for m in matches if any(n in lowered for n in m.agency.names)), None)
        names_other = any(m.keyword_hits > 0 and m.agency.id != "regional_dx_lab" for m in matches)
        # 「福岡市で相談できる拠点は？」 names a lab region and asks for support without naming an agency type.
        if (
            not names_other
            and find_regions(question, self.regions)
            and _ASKS_SUPPORT.search(nfkc(question))
            and not is_follow_up(question, previous)
            and (lab := self.cards.by_id("lab-regions")) is not None
        ):
            # 「燕市のラボに関わるとどんなメリットが？」 asks what a lab does, not where the labs are.
            about = self.cards.by_id("regional-dx-lab") if _ROLE.search(nfkc(question)) else None
            return about or lab, "region"
        if is_supporter(question) and not is_follow_up(question, previous):
            # Support staff asking how to support: the guidance written for them, not an owner's answer.
            fitting = [
                h
                for h in self.cards.rank(question, qvec, n=10, passages=passages)
                if h.card.kind in ("staff", "topic", "clause") and h.score >= CARD_MIN_SCORE - STAFF_MARGIN
            ]
            # Among those that fit nearly as well, the one written for support staff.
            staff = [
                h for h in fitting if h.card.kind == "staff" and h.score >= fitting[0].score - STAFF_MARGIN
            ]
            if fitting:
                return (staff or fitting)[0].card, "supporter"
        card, why = choose_card(self.cards, question, qvec, previous, self.index.embed_query, named, passages)
        if (
            named is not None
            and (card is None or card.kind in ("staff", "topic", "start"))
            and why != "bring"
            and (_ROLE.search(nfkc(question)) or is_follow_up(question, previous))
            and (own := self.cards.by_id(AGENCY_CARDS.get(named, ""))) is not None
            and own.id not in (previous.shown if previous else [])
        ):
            # 「地元のITベンダーにはどんな役割を期待すれば？」「社労士さんはどう？」: about that agency.
            return own, "match"
        if card is not None and card.kind == "staff" and why == "match":
            # Staff cards speak to supporters. An owner speaking of their own business never gets one; any
            # other asker gets an owner's card instead when one fits nearly as well.
            shown = set(previous.shown) if previous else set()
            ranked = self.cards.rank(question, qvec, n=10, passages=passages)
            owner = next((h for h in ranked if h.card.kind != "staff" and h.card.id not in shown), None)
            if owner is not None and (
                _OWNER_VOICE.search(nfkc(question))
                or not (_ABOUT_SUPPORT.search(nfkc(question)) or names_subject(card, nfkc(question)))
            ):
                return (
                    (owner.card, "match") if owner.score >= CARD_MIN_SCORE - STAFF_MARGIN else (None, "none")
                )
            staff_score = next((h.score for h in ranked if h.card.id == card.id), 0.0)
            if (
                owner is not None
                and owner.score >= max(CARD_MIN_SCORE, staff_score - OWNER_MARGIN)
                and not is_supporter(question)
            ):
                return owner.card, "match"
        return card, why

    def _resolve(
        self,
        question: str,
        qvec: np.ndarray,
        previous: TurnState | None,
        situation: str,
        passages: list[str],
    ) -> tuple[Card | None, str, CardHit | None]:
        """This turn's card, why it was chosen, and the question's own best card match, given the turn's
        search hits (`_search`).

        Where to start (or an owner describing the business) with no better card gets the general
        start card, and that one becomes the card of the owner's stage once the stage is known.
        """
        card, why = self._choose(question, qvec, previous, passages)
        own = self.cards.rank(question, qvec, n=1, passages=passages)
        text = nfkc(question)
        fresh = not is_follow_up(question, previous)
        described = estimate_stage(question) if fresh else None
        general = card is None or (
            why == "match"
            and (card.id in _GENERAL_CARDS or (card.kind == "topic" and not names_subject(card, text)))
        )
        starting = fresh and bool(_STARTING.search(text))
        relevance = general and fresh and bool(_RELEVANCE.search(text))
        if relevance and not (described or starting):
            card, why = self.cards.by_id("why-dx"), "match"  # 「小さな店でもDXに取り組む意味はある？」
        elif (
            relevance
            or (card is None and (described or starting))
            or (general and starting and (described or _BUSINESS.search(text)))
        ):
            # Where to start, or an owner describing the business: the start card of their stage. Asked
            # whether DX concerns them at all, the answer says so first (why-dx leads it).
            card, why = self.cards.by_id("start-general"), "relevance" if relevance else "match"
        elif (
            card is None
            and _ASKS_WHO.search(text)
            and "agency-choose" not in (previous.shown if previous else [])
        ):
            # 「手伝ってくれるところってある？」 with no better card: how to choose whom to consult.
            card, why = self.cards.by_id("agency-choose"), "match"
        if card is not None and card.id == "start-general":
            stage_match = estimate_stage(situation)
            staged = self.cards.by_id(f"start-stage{stage_match.stage.level}") if stage_match else None
            if staged is not None and staged.id not in (previous.shown if previous else []):
                card = staged
        return card, why, own[0] if own else None

    def _search(
        self, question: str, qvec: np.ndarray, turns: list[str], previous: TurnState | None
    ) -> tuple[list[Hit], Intent, str, list[str]]:
        """A turn's search hits, routed intent, search context and expansions. A follow-up such as
        「それはどこに相談すればいい？」 is searched together with the turns before it. The answer and the
        replay of earlier turns search alike, so a replayed turn gets the card its answer had."""
        intent: Intent = self.router.route(question, qvec)
        context = question
        if len(turns) > 1 and is_follow_up(question, previous):
            context = " ".join(turns[-3:])
        expansions = expansions_for(context) + INTENT_HINTS.get(intent, [])
        query = context
        if PILLAR.search(nfkc(context)) or VIEWPOINT.search(nfkc(context)):
            query = " ".join([context, *expansions_for(context)])
        hits = self.index.search(query, k=self.settings.retrieve_k, expansions=expansions)
        return hits, intent, context, expansions

    def _replay(self, earlier: list[str]) -> TurnState | None:
        """The state after the earlier user turns (the last three): their cards, stage and agencies."""
        state: TurnState | None = None
        start = max(0, len(earlier) - 3)
        for i, text in enumerate(earlier[start:], start=start):
            if is_injection(text) or is_off_topic(text):
                continue
            qvec = self.index.embed_query(text)
            turns = earlier[: i + 1]
            situation = " ".join(turns)
            hits, routed, _, _ = self._search(text, qvec, turns, state)
            card, why, _ = self._resolve(text, qvec, state, situation, [h.chunk.chunk_id for h in hits])
            stage_match = estimate_stage(text)
            shown = [*(state.shown if state else []), *([card.id] if card else [])]
            # The same ranking the answer used, so 「そこ」 is the agency that answer recommended first.
            agencies = [a.agency.id for a in self._agency_matches(card, text, situation, why, routed)]
            state = TurnState(
                card=card or (state.card if state else None),
                stage=stage_match.stage.level if stage_match else (state.stage if state else None),
                agencies=agencies or (state.agencies if state else []),
                shown=shown,
            )
        return state

    def _stage_match(self, question: str, situation: str, card: Card | None) -> StageMatch | None:
        """The stage, from what the owner says they do now: only under answers about where they stand or
        what to do first, or when this very message describes the business."""
        own = estimate_stage(question)
        if own is not None:
            return own
        if card is not None and card.kind == "start":
            return estimate_stage(situation)
        return None

    # --- agencies ----------------------------------------------------------------------------
    def _agency_matches(
        self,
        card: Card | None,
        question: str,
        situation: str,
        why: str,
        routed: Intent = "fact",
        topic: list[str] | None = None,
    ) -> list[AgencyMatch]:
        """Agencies best first: named by the owner, fitting the card and the owner's needs, in the region.

        Asking where to start puts the agencies for a first consultation ahead of the card's own choice.
        """
        first_step = routed == "start" or (card is not None and card.kind == "start")
        matches = match_agencies(
            situation if card is None or card.kind != "topic" else question, 11, first_step
        )
        preferred = list(dict.fromkeys([*(topic or []), *(card.agencies if card is not None else [])]))
        if why == "bring" and card is not None and card.agencies:
            preferred = card.agencies[:1]
        weight = 2.0 if routed == "start" and (card is None or card.kind != "start") else 6.0
        # The owner naming an agency counts unless the card is about something else (「ベンダーに任せて
        # いい？」 is about who leads, not a wish to see a vendor).
        asks_who = bool(_ASKS_WHO.search(nfkc(question)))
        about_other = card is not None and card.kind == "topic" and not asks_who

        def rank(m: AgencyMatch) -> float:
            bonus = weight / (1 + preferred.index(m.agency.id)) if m.agency.id in preferred else 0.0
            named = -3.0 * m.keyword_hits if about_other else 5.0 * m.keyword_hits
            return m.score + bonus + (20.0 if m.regions else 0.0) + named

        return sorted(matches, key=rank, reverse=True)[:3]

    def _recommend(
        self,
        card: Card | None,
        intent: Intent,
        question: str,
        situation: str,
        book: CitationBook,
        hits: list[Hit],
        why: str,
        previous: TurnState | None = None,
    ) -> list[AgencyRecommendation]:
        """Agencies for questions about where to start or whom to ask (or when the owner names one).

        「誰に相談すればいい？」 after a topic asks whom to consult about that topic: its agencies lead.
        """
        if is_supporter(question):
            return []  # never send a bank's adviser to a bank
        asks_who = bool(_ASKS_WHO.search(nfkc(question)))
        if why == "detail" and not asks_who and card is not None and card.kind not in ("agency", "region"):
            return []
        topic = (
            previous.card.agencies if previous and previous.card and _ASKS_WHO.search(nfkc(question)) else []
        )
        matches = self._agency_matches(card, question, situation, why, intent, topic)
        if why == "bring" and card is not None and card.agencies:
            # 「そこへ何を持っていけば？」 is about that one agency.
            matches = [m for m in match_agencies(question, 11) if m.agency.id == card.agencies[0]] or matches
        named = bool(matches) and matches[0].keyword_hits > 0
        if card is not None and card.kind in ("clause", "staff") and intent not in ("agency", "region"):
            return []
        if card is not None and not (
            card.kind in ("start", "agency", "region")
            or asks_who
            or named
            or intent in ("start", "agency", "region")
        ):
            return []
        if card is None and not (intent in ("start", "region") or asks_who or named):
            return []
        context = " ".join([question, *(c.sentence for c in card.claims())] if card else [question])
        return self._agencies(
            matches[: 1 if why == "bring" else 2],
            book,
            hits,
            context,
            brief=why != "bring",
            english=is_mostly_ascii(question),
            question=question,
            avoid=tuple(c.sentence for c in card.answer) if card is not None else (),
        )

    def _retrieved(self, hit: Hit) -> RetrievedChunk:
        c = hit.chunk
        return RetrievedChunk(
            chunk_id=c.chunk_id,
            doc_id=c.doc_id,
            title=c.title,
            page=c.page,
            heading=c.heading,
            text=c.text,
            score=round(hit.score, 6),
        )

    def _in_scope(self, question: str, hits: list[Hit], expansions: list[str]) -> bool:
        """Is the question about what the guides cover? Calibrated on the tune split (README).

        Domain-specific rule matches (a region of the lab list, a clause reference, asking for a
        support agency or where to start) count as evidence; otherwise the retrieved passages must be
        close in meaning (dense) or share the question's rarer words (lexical overlap).
        """
        if not hits:
            return False
        if route_intent(question, self.regions) in ("region", "agency", "start", "clause"):
            return True
        text = nfkc(question)
        if _DIGITISING.search(text) and (_OWNER_VOICE.search(text) or _BUSINESS.search(text)):
            return True  # an owner telling how digitising their own work goes (「POSを入れたら反対された」)
        best_dense = max((h.dense_similarity or 0.0) for h in hits[:3])
        if is_mostly_ascii(question):
            # English questions share no Japanese words with the guides: rely on domain terms.
            return bool(_ENGLISH_DOMAIN.search(question)) and best_dense >= SCOPE_DENSE_ENGLISH
        weights = self.pool.weights(question, expansions)
        total = sum(weights.values()) or 1.0
        top = [c for h in hits[:3] for c in self.pool.by_chunk.get(h.chunk.chunk_id, [])]
        top_tokens = set().union(*(c.tokens | c.heading_tokens for c in top)) if top else set()
        overlap = sum(w for t, w in weights.items() if t in top_tokens) / total
        return best_dense >= SCOPE_DENSE or overlap >= SCOPE_OVERLAP

    def _refusal(self, intent_reason: str, retrieved: list[RetrievedChunk]) -> ChatResponse:
        if intent_reason == "injection":
            text = (
                "申し訳ありませんが、その指示には従えません。DXナビは、参照している政府のDX関連資料の内容だけをもとに、"
                "出典を示してお答えします。\n\n" + REFUSAL_HELP
            )
        else:
            text = (
                "申し訳ありません。ご質問の内容は、DXナビが参照している資料（経済産業省のDX推進施策の資料）には"
                "記載がないため、お答えできません。\n\n" + REFUSAL_HELP
            )
        return ChatResponse(
            message_id=uuid.uuid4().hex, answer=text, intent="out_of_scope", refused=True, retrieved=retrieved
        )

    # ----------------------------------------------------------------------------------------
    def _cite_quote(self, book: CitationBook, quote: str, hits: list[Hit]) -> int | None:
        chunk = self.pool.find_chunk(quote, [h.chunk for h in hits])
        if chunk is None:
            log.warning("catalog quote not found in the index: %s", quote[:40])
            return None
        return book.cite(chunk, quote)

    def _stage(self, match: StageMatch, book: CitationBook, hits: list[Hit]) -> StageEstimate:
        """The stage in sentences its quotes support: the stage's example that matches the owner's words,
        and the guides' description of the stage."""
        stage = match.stage
        label_quote = _STAGE_LABEL_QUOTES[stage.level]
        example = next(
            (q for q in stage.example_quotes if any(c in nfkc(q).lower() for c in match.cues)),
            stage.example_quotes[0],
        )
        cues = [c for c in match.cues if c in nfkc(example).lower()][:2]
        sentences = []
        n_label = self._cite_quote(book, label_quote, hits)
        n_example = self._cite_quote(book, example, hits)
        n_desc = self._cite_quote(book, stage.description_quote, hits)
        if n_label and n_example and cues:
            # Only when the owner's own words appear in the guides' example: never claim a likeness the
            # owner did not describe (paper drawings are not 「受発注をFAXや電話のみで実施」).
            shown = "・".join(f"「{c.upper() if c.isascii() else c}」" for c in cues)
            sentences.append(
                f"ご説明の{shown}は、段階{stage.level}の例「{example}」にあたります。[{n_label}][{n_example}]"
            )
        if n_desc:
            sentences.append(f"資料の説明: 「{stage.description_quote}」[{n_desc}]")
        head = f"段階{stage.level}「{stage.label}」と考えられます。"
        head += "".join(f"[{n}]" for n in (n_label, n_desc) if n)
        reason = head + "".join(sentences)
        cited = [n for n in (n_label, n_example if cues else None, n_desc) if n]
        return StageEstimate(
            level=stage.level, label=stage.label, reason=reason, citations=[book.get(n) for n in cited]
        )

    @staticmethod
    def _fitting(claims: list[Claim], weights: dict[str, float], n: int) -> list[Claim]:
        """The `n` claims sharing the most (IDF-weighted) context words, kept in card order."""
        scored = [
            (sum(w for t, w in weights.items() if t in tokens_of(c.sentence)), -i, c)
            for i, c in enumerate(claims)
        ]
        best = sorted(scored, key=lambda x: (x[0], x[1]), reverse=True)[:n]
        return [c for _, _, c in sorted(best, key=lambda x: -x[1])]

    def _agencies(
        self,
        matches: list[AgencyMatch],
        book: CitationBook,
        hits: list[Hit],
        context: str = "",
        brief: bool = True,
        english: bool = False,
        question: str = "",
        avoid: tuple[str, ...] = (),
    ) -> list[AgencyRecommendation]:
        """Each agency with its reason and what to bring, from its advice card (quotes that name it)."""
        context_weights = self.pool.weights(context)
        asked = set(self.pool.weights(question))
        out = []
        for m in matches:
            agency = m.agency
            card = self.cards.by_id(AGENCY_CARDS.get(agency.id, ""))
            cited: list[int] = []
            reason = ""
            if m.regions:
                listing = self._region_listing(m.regions[0])
                heading = self._cite_quote(book, "地域DX推進ラボ選定地域", hits)
                if listing is not None and heading is not None:
                    n = book.cite(listing.chunk, listing.text)
                    reason = f"{'・'.join(m.regions)}は地域DX推進ラボ選定地域です。[{heading}][{n}]"
                    cited += [heading, n]
            what: list[str] = []
            if card is not None and card.answer:
                # The reason and the things to bring that fit this conversation best (ties: card order).
                # …and not a sentence the answer above already says.
                choices = [
                    c
                    for c in card.answer[:REASON_CHOICES]
                    if not any(near_duplicate(c.sentence, a) for a in avoid)
                ] or card.answer[:REASON_CHOICES]
                reason_claim = self._fitting(choices, context_weights, 1)[0]
                first = self._cite_claim(book, reason_claim, hits, english)
                if first:
                    reason += first
                    cited += parse_markers(first)
                # A step for a condition (「DX認定を取得している場合は…」) only when the owner raised it.
                steps = [c for c in card.steps if "場合" not in c.sentence or tokens_of(c.sentence) & asked]
                if brief:
                    # Under an answer, what this agency in particular needs to hear; the items every
                    # agency card shares come with 「何を持っていけばいい？」.
                    steps = [c for c in steps if c.sentence not in self._shared_steps] or steps
                for step in self._fitting(steps, context_weights, BRING_ITEMS if brief else len(steps)):
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

    def _card_body(
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
    ) -> str:
        """結論 first, then 現在地, 次の一歩, 相談先, what the guides leave out, and one question back."""
        parts: list[str] = []
        label = _LABELS["en" if english else "ja"]
        if english:
            parts.append(label["notice"])
        if card.kind == "clause":
            claims = card.answer
            if not wants_verbatim(question):
                # 「柱3-3の望ましい方向性は？」 asks for one part; 原文・全文 asks for the whole clause.
                asked = [c for c in claims if _CLAUSE_PART[_clause_part(c)].search(nfkc(question))]
                claims = asked or claims
            lines = [f"- {line}" for c in claims if (line := self._cite_claim(book, c, hits, english))]
            parts.append(f"### {card.title}\n" + "\n".join(lines))
        elif why == "detail":
            detail = self._detail(card, question, english, book, hits)
            gap = card.not_covered_en if english and card.not_covered_en else card.not_covered
            if gap and uncovered(card, question):
                # 「締め切りはある？」: the plain answer first — the guides do not say — then what they do.
                return "\n\n".join(p for p in (gap, detail) if p)
            if not detail:
                return ""  # nothing in the topic speaks to it: the passages answer instead
            parts.append(detail)
        elif why == "bring" and agencies:
            agency = agencies[0]
            steps = agency.what_to_ask or [
                line for c in card.steps if (line := self._cite_claim(book, c, hits, english))
            ]
            # What any agency needs to hear, after what this one needs (skipping what it already lists).
            prepare = self.cards.by_id("consult-prepare")
            for claim in prepare.steps if prepare is not None else []:
                if not any(near_duplicate(claim.sentence, strip_markers(s)) for s in steps):
                    line = self._cite_claim(book, claim, hits, english)
                    steps.append(line) if line else None
            parts.append(label["bring"].format(name=agency.name) + "\n" + "\n".join(f"- {s}" for s in steps))
            if agency.reason:
                parts.append(agency.reason)
            agencies = []
        else:
            claims = card.answer
            lead = self.cards.by_id("why-dx") if why == "relevance" else None
            if lead is not None:
                # 「うちでも関係ある？」 is answered first (DX pays off for SMEs), then for the owner's stage.
                parts.append(_full_stop(self._cite_claim(book, lead.answer[0], hits, english)))
            if stage is not None:
                # 現在地 comes first and says which stage; the card's own sentences about it would repeat it.
                parts.append(f"{label['stage']}\n{stage.reason}")
                stated = {c.quote for c in stage.citations}
                claims = [c for c in claims if not set(c.cites) & stated] or claims
            sentences = [line for c in claims if (line := self._cite_claim(book, c, hits, english))]
            # In running text a quoted slide line without a full stop would run into the next sentence.
            sentences = [_full_stop(s) for s in sentences]
            body = "".join(sentences) if not english else "\n".join(f"- {s}" for s in sentences)
            parts.append(("### 回答\n" if stage is not None else "") + body)
            if card.kind in ("topic", "staff"):
                parts.append(self._passages_section(card, question, hits, book, label["passages"]))
        if stage is not None and card.kind == "clause":
            parts.append(f"{label['stage']}\n{stage.reason}")
        said = [q for c in card.answer for q in c.cites] if card.kind != "clause" else []
        # A step whose every quote the answer above already cites would only say it again.
        fresh_steps = [c for c in card.steps if not all(any(q in s for s in said) for q in c.cites)]
        steps = [
            line for c in fresh_steps or card.steps[:1] if (line := self._cite_claim(book, c, hits, english))
        ]
        if steps and why not in ("bring", "detail"):
            # Nothing started yet (no stage described, or stage 1): the first step; otherwise the next one.
            first = card.kind == "start" and (stage is None or stage.level == 1)
            heading = label["first_steps" if first else "steps"]
            parts.append(heading + "\n" + "\n".join(f"- {s}" for s in steps))
        if agencies:
            # A second agency only when the owner asks whom to consult; otherwise one clear recommendation.
            others = 1 if _ASKS_WHO.search(nfkc(question)) or card.kind in ("agency", "region") else 0
            parts.append(
                self._agency_section(
                    agencies, label["agencies"], detailed=1, english=english, others_shown=others
                )
            )
        gap = card.not_covered_en if english and card.not_covered_en else card.not_covered
        if gap and (_HOW_MUCH.search(nfkc(question)) or (uncovered(card, question) and why != "detail")):
            # 「いくらかかる？」: the honest answer comes first — the guides give no prices — then what they do say.
            parts.insert(1 if english else 0, gap)
        elif gap and (why in ("money", "match", "related", "supporter") or MONEY.search(nfkc(question))):
            parts.append(f"{label['gap']}{gap}")
        # One question back, only where the answer can use the reply: the owner's current practice (for
        # the stage) under where-to-start answers, the place under regional ones.
        ask = card.ask_back_en if english and card.ask_back_en else card.ask_back
        usable = (card.kind == "region" and not _PLACE.search(nfkc(question))) or (
            card.kind == "start" and stage is None
        )
        if ask and usable and (previous is None or previous.stage is None):
            parts.append(ask)
        return "\n\n".join(p for p in parts if p.strip())

    def _detail(self, card: Card, question: str, english: bool, book: CitationBook, hits: list[Hit]) -> str:
        """A follow-up on a topic already answered (「研修してる間の給料も出るの？」): only the card's sentences
        and the passage sentences that speak to this question, not the whole answer again."""
        weights = self.pool.weights(question, expansions_for(question))
        total = sum(weights.values()) or 1.0
        money = bool(MONEY.search(nfkc(question)))

        def overlap(claim: Claim) -> float:
            words = tokens_of(claim.sentence) | {t for q in claim.cites for t in tokens_of(q)}
            cost = 1.0 if money and STATES_COST.search(claim.sentence) else 0.0  # 「お金かかる？」→「無償」
            return cost + sum(w for t, w in weights.items() if t in words) / total

        claims = sorted(
            (c for c in card.claims() if overlap(c) >= PASSAGE_MIN_OVERLAP), key=overlap, reverse=True
        )[:DETAIL_CLAIMS]
        claims = [c for c in card.claims() if c in claims]  # in the card's order
        lines = [_full_stop(line) for c in claims if (line := self._cite_claim(book, c, hits, english))]
        wants_figure = bool(_WANTS_FIGURE.search(nfkc(question)))
        own = [
            chunk
            for q in dict.fromkeys(q for c in card.claims() for q in c.cites)
            if (chunk := self.pool.find_chunk(q, [h.chunk for h in hits])) is not None
        ]
        chunks = list({c.chunk_id: c for c in [*(h.chunk for h in hits[:PASSAGE_CHUNKS]), *own]}.values())
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
        lines += [quote_line(c.text, book.cite(c.chunk, c.text)) for c in picked]
        if not lines:
            return ""
        intro = (
            f"On {card.title_en}, this is what the guides say on your point:"
            if english
            else f"「{card.title}」のうち、ご質問の点について資料に書かれていることです。"
        )
        return intro + "\n" + "\n".join(f"- {line}" for line in lines)

    def _passages_section(
        self, card: Card, question: str, hits: list[Hit], book: CitationBook, title: str
    ) -> str:
        """For a specific question (a figure, a name), the passage sentences that answer it verbatim,
        when the card's sentences do not already quote them."""
        wants_figure = bool(_WANTS_FIGURE.search(nfkc(question)))
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

    def _grounded(self, body: str, book: CitationBook) -> str:
        """Drop every cited sentence that its quotes do not support (logged: a card or catalog bug)."""
        body = nfkc(body)
        quotes = {c.n: c.quote for c in book.citations}
        bad = [c for c in check_answer(body, quotes) if not c.grounded]
        for check in bad:
            log.warning("unsupported sentence dropped (%s): %s", check.why, check.sentence[:60])
            body = body.replace(check.sentence, "")
        body = "\n".join(line for line in body.split("\n") if not re.fullmatch(r"\s*[-*+]\s*", line))
        return re.sub(r"\n{3,}", "\n\n", body).strip()

    def _ranked(self, hits: list[Hit], card: Card | None) -> list[Hit]:
        """The search hits with the passages the card's answer quotes placed right after the best hit.

        The same order is shown as the retrieved passages and given to the LLM as its passages.
        """
        if card is None:
            return hits
        front: list[Hit] = []
        for quote in [q for c in card.answer[:RANK_CLAIMS] for q in c.cites]:
            chunk = self.pool.find_chunk(quote, [h.chunk for h in hits])
            if chunk is not None and all(f.chunk.chunk_id != chunk.chunk_id for f in front):
                known = next((h for h in hits if h.chunk.chunk_id == chunk.chunk_id), None)
                front.append(known or Hit(chunk, 0.0, None, None, None))
        out = list(hits[:RANK_AFTER])
        out += [f for f in front if f not in out][:RANK_FRONT]
        out += [h for h in hits if h not in out]
        return out[: len(hits)]

    def _region_listing(self, region: str) -> Any:
        """The guides' list of selected lab regions that names `region` (the evidence for the claim)."""
        for cands in self.pool.by_chunk.values():
            for cand in cands:
                if region in cand.text and cand.text.count("・") >= 5:
                    return cand
        return None

    def _compose(
        self,
        intent: Intent,
        question: str,
        context: str,
        expansions: list[str],
        hits: list[Hit],
        book: CitationBook,
        agencies: list[AgencyRecommendation],
    ) -> str:
        chunks = [h.chunk for h in hits]
        # The question's own words count fully; earlier turns (in a follow-up) at half weight.
        weights = self.pool.weights(question, expansions + ([context] if context != question else []))
        want_digits = bool(_WANTS_FIGURE.search(nfkc(question)))
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
                query_vector=qvec,
            )
            if picked:
                parts.append("### 資料の記述\n" + "\n".join(quoted(picked)))
            if intent == "region" and not regions:
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
            picked = select_sentences(
                self.pool,
                [c for c in chunks[:6] if not _CASE.search(c.heading or "")] or chunks[:6]
                if not _ASKS_CASE.search(nfkc(question))
                else chunks[:6],
                weights,
                SENTENCES["fact"],
                want_digits=want_digits,
                query_vector=qvec,
            )
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
        label = _LABELS["en" if english else "ja"]
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

    def _llm_body(
        self,
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
            verified = llm_answer(self.backend, question, messages[:-1], passages)
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
