"""The advisor: route → retrieve → stage/agency → extractive (or verified LLM) answer with citations."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from bot import catalog
from bot.agencies import REGION_BASE, AgencyMatch, match_agencies, names_agency
from bot.cards import Card
from bot.compose import (
    CitationBook,
    SentencePool,
    sources_section,
)
from bot.counsel import (
    BORROWING,
    CARD_MIN_SCORE,
    CLEAR_MARGIN,
    NEUTRAL,
    NEXT_STAGE,
    PERSUADING,
    PILLAR,
    SAME_ENTITY,
    TOPIC_CHANGE,
    VIEWPOINT,
    WHAT_FOR_US,
    CardHit,
    CardIndex,
    TurnState,
    asks_order,
    asks_product,
    asks_whom,
    choose_card,
    clause_card_id,
    cued,
    declines,
    drop_topic_change,
    is_follow_up,
    names_all,
    names_subject,
    speaks_to,
    specific_words,
    title_words,
    uncovered,
)
from bot.grounding import content_words
from bot.question import (
    ABOUT_SUPPORT,
    ASKS_CASE,
    ASKS_STAGE,
    ASKS_SUPPORT,
    ASKS_WHO,
    BEGINNING,
    BUSINESS,
    DIGITISING,
    ENGLISH_DOMAIN,
    HELP_ASKED,
    KIND_OF_SUPPORT,
    LOCAL,
    OWNER_VOICE,
    RELEVANCE,
    ROLE,
    STARTING,
    VENDORS,
    WHAT_TO_DO,
    asked_org,
    asked_part,
    asked_sentence,
    asked_term,
    asking_parts,
    asking_text,
    asks_anything,
    asks_fact,
    description,
    english_terms,
    expansions_for,
    is_courtesy,
    is_mostly_ascii,
    is_supporter,
    named_prefecture,
    unknown_programmes,
)
from bot.retrieve import Hit, SearchIndex, check_query
from bot.route import OFF_TOPIC, IntentRouter, find_regions, is_injection, is_off_topic, route_intent
from bot.schemas import AgencyRecommendation, ChatResponse, Intent, Message, RetrievedChunk
from bot.sections import (
    AGENCY_CARDS,
    LABELS,
    LEADS,
    OTHERS_ASKED,
    OWN_STAGE_ASKED,
    SectionWriter,
    said_any,
    unsaid_steps,
)
from bot.stage import StageMatch, estimate_stage
from bot.vectors import ExampleVectors
from ground.errors import QueryError
from ingest.normalize import nfkc

if TYPE_CHECKING:
    from ground.config import Settings
    from ingest.embed import Embedder

log = logging.getLogger(__name__)

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

# Words the guides use for what each kind of question is about: they steer the lexical side of
# retrieval (and sentence choice, at half weight) toward the passages that answer that kind of question.
INTENT_HINTS: dict[str, list[str]] = {
    "start": ["身の回りの業務のデジタル化から始め", "身近なところから始め成功体験", "支援機関の伴走支援"],
    "agency": ["支援機関の活用", "支援機関"],
    "region": ["地域DX推進ラボ", "支援機関の活用"],
}


# Cards that answer the general question: an owner who describes the business and asks where to start
# (or whether DX concerns them) is answered for their own stage instead.
GENERAL_CARDS = frozenset(
    {"start-general", "why-dx", "dx-what", "dx-vs-it", "management-leads", "success-points", "dx-process"}
)
SCOPE_MARGIN = 0.05
SCOPE_CARD_DENSE = 0.85  # … and whose example questions are close in meaning (not only a shared word)
# Cards whose first sentences lead a where-to-start answer when the firm is described and the cues name them
# (「こんな小さい会社でもやれる？」, 「人が足りなくて、DXで何とかならないか」), by the why that says which.
LEADING = {card_id: why for why, (card_id, _) in LEADS.items() if why != "relevance"}
_STAGE_TOPICS = ("dx-vs-it", "stages-overview")
# The reply to thanks, and to an acknowledgement (「了解です」).
COURTESY_JA = (
    "どういたしまして。ほかにも気になることがあれば、いつでもお尋ねください。",
    "ほかにも気になることがあれば、いつでもお尋ねください。",
)
COURTESY_EN = (
    "You're welcome. Ask any time if something else comes up.",
    "Ask any time if something else comes up.",
)
THANKS = re.compile(r"ありが|サンキュー|助か|参考にな|thank", re.IGNORECASE)
STAFF_MARGIN = 0.05  # support staff get a staff card a little below the usual bar
OWNER_MARGIN = 0.02  # an owner gets an owner's card over a staff card that is at most this much better
RELATED_TRIED = 4  # related topics tried for a follow-up the last topic does not answer …
RELATED_MIN_OVERLAP = 0.5  # … whose sentences share this much of the question's weight (the topic's own: 0.3)
WHOM_ONLY = 30  # characters: a follow-up that only asks whom to ask
# How the answer's card reorders the search hits (measured on the tune split, README「評価」).
ENGLISH_NAME_MARGIN = 0.1  # an English question's named card may score this much below CARD_MIN_SCORE
RANK_CLAIMS = 1  # quotes of the first claims of the card's answer …
RANK_FRONT = 1  # … at most this many passages …
RANK_AFTER = 1  # … placed after the best search hit
_CARD_INTENT: dict[str, Intent] = {
    "start": "start",
    "agency": "agency",
    "region": "region",
    "clause": "clause",
    "topic": "fact",
    "staff": "fact",
}


@dataclass(frozen=True)
class _Turn:
    """How one user turn is read: its card and why, its search, and whether the guides cover it."""

    card: Card | None
    why: str
    best: CardHit | None
    hits: list[Hit]
    intent: Intent
    context: str
    expansions: list[str]
    follow: bool
    previous: TurnState | None  # (leaning on the topic before when it says nothing the guides cover alone)
    in_scope: bool
    term: str | None = None
    firm: str | None = None
    refused: bool = False


@dataclass(frozen=True)
class StreamEvent:
    """`delta` events carry answer text; the last event is `final` with the whole response."""

    kind: str
    text: str = ""
    response: ChatResponse | None = None


SECOND_DEPTH = 5  # the second card of a compound question is among the part's best few and names its subject
# A message is also matched by its asking sentence when it says this much more (a description).
DESCRIPTION_MIN = 20
# Asking for help in English (「Is there anyone I can talk to in English?」「英語で相談できるところは？」).
IN_ENGLISH = re.compile(
    r"\bin english\b|english[- ]speaking|speaks? english|英語で|英語対応|英語が(でき|話せ|通じ)", re.I
)
WANTS_HELP = re.compile(
    r"help|talk|support|consult|advi[cs]e|anyone|someone|相談|対応|助け|話せる|聞ける", re.I
)
# Asking for an example, or how other firms did it.
EXAMPLE_WANTED = re.compile(
    r"事例|実例|例は|例って|例が|よその|他社|(他|ほか)の会社|example|other (firms|companies)", re.I
)
CASE_MARGIN = 0.05  # asked for an example, the guides' case may match this much below the topic
CUE_MARGIN = 0.1  # a card named by its cues may match this much below the usual minimum, at any rank
CUE_DEPTH = 10  # the closest cards the other rules weigh (a clause's owner topic, a case's alternative)
ASKED_MARGIN = 0.05  # the asking sentence alone must match this much better than the whole message
# What can be done soon (「来月までにできること」「一つだけ挙げるとしたら」).
NOW_TO_DO = re.compile(
    r"(来月|今月|来週|今週|明日|今日|すぐ|当面|手始め|一つだけ|ひとつだけ)[^。？?]{0,12}(でき|やれ|やる|始め|手をつけ|取りかか|挙げ|すれば|したら|すべき|やれば)"
)
# Asking for the answer again (「もう一回まとめて」).
AGAIN = re.compile(
    r"もう一(回|度)|もういっぺん|改めて|おさらい|まとめて|要点だけ|again|summari[sz]e|recap", re.IGNORECASE
)
# A stage named in the question (「段階3に進むには？」) — its own first steps are asked for.
STAGE_NAMED = re.compile(
    r"段階|ステージ|stage|フェーズ|デジタイゼーション|デジタライゼーション|未着手", re.IGNORECASE
)
# A short asking sentence that points back at the description before it (「これ、どうにかならない？」).
POINTING_BACK = re.compile(
    r"^(これ|それ|こういう|そういう|こんな|そんな|この|その)[^。？?]{0,16}[？?。]?$"
    # 「よそはこういうときどないしてはるんですか？」: what others do in the situation just described
    r"|^[^。？?]{0,8}(こういう|こんな|そういう)(とき|時|場合|状況|ケース)"
)
# 「取って意味ある？」「メリットは？」: what something brings.
WORTH_ASKED = re.compile(r"意味(ある|あり|が|って)|メリット|得(する|に|が|な)|いいこと|良いこと|価値")
# An asker who is of that kind of agency themselves, and so is not sent to it: a 士業 office
# (「社会保険労務士事務所を開いて8年」「税理士事務所の所長です」), an IT coordinator or 診断士 (「ITコーディネータの
# 資格を持っています」).
OWN_KIND = {
    "professional": re.compile(
        r"(税理士|会計士|社労士|社会保険労務士|行政書士|司法書士|弁護士|診断士)(事務所|法人)?"
        r"(を(開|経営|営|やって)|の(所長|代表)|です|をして)"
    ),
    "consultant": re.compile(
        r"(ITコーディネータ|ITC|中小企業診断士|診断士)(の資格を(持って|取って|もって)|です|をして|として)"
    ),
}
_WORTH_WORDS = re.compile(r"関係(ある|あり)|意味(ある|あり|って)")
# What an agency told the owner about (「銀行の担当から『DX認定とったら？』と言われた」): the subject, not the agency.
HEARSAY = re.compile(
    r"(から|に)[^。？?]{0,30}(言われ|勧められ|すすめられ|薦められ|聞い|紹介され)|mentioned|suggested|told (me|us)|recommended",
    re.IGNORECASE,
)
# A supporter asking what their kind of agency is expected to do (「士業も支援役として期待されている？」).
_SUPPORT_ROLE = re.compile(r"期待|位置づけ|位置付け|役割|支援役|担い手")
OWN_FIRM = re.compile(r"うち|弊社|当社|自社|我が社|わが社")
# Borrowing or a guarantee: a bank named here is the lender.
LENDING = re.compile(BORROWING.pattern + r"|保証")
# A local programme asked about (「東京にそういう仕組みはある？」「any DX support program in Tokyo?」), not just
# someone to talk to (「近くに相談先がなければ？」).
# A support programme asked about (「県にそういう仕組みある？」), not the owner's own set-up (「楽な仕組みにしたい」).
PROGRAMME = re.compile(
    r"ラボ|プログラム|(?<![楽な])(制度|仕組み)(?!に(し|す))|\blabs?\b|program", re.IGNORECASE
)
# 「沖縄にも相談できるところあるわけ？」: a place to ask, in the prefecture named.
PLACE_TO_ASK = re.compile(r"(相談|頼)(でき|れ|め)る(ところ|とこ|場所|先|機関|窓口)")
# The owner asks where their own firm stands (not which stage a tool they consider belongs to).
MY_STAGE = re.compile(
    r"(うち|弊社|当社|自社|わが社|我が社)(って|は|の(会社|店)(って|は)?).{0,16}(段階|どこ|どの辺|どのあたり|レベル)"
    r"|(うち|弊社|当社|自社)の(段階|現在地|レベル)"
)
# Words that ask for the code's own text or a clause of it (not an owner's practical question).
CLAUSE_ASKED = re.compile(
    r"コード|柱|視点|条文|原文|全文|そのまま|一字一句|望ましい方向性|考え方|基本的事項|ガバナンス|code|pillar|verbatim"
    r"|\d\s*[-ー－]\s*\d",  # (not 「国のガイドではどう書いてある？」: an owner asking what the guides say)
    re.IGNORECASE,
)
# Asking for a yardstick (「測る物差しってある？」), not only where the firm stands.
MEASURE = re.compile(r"物差し|ものさし|測る|測れ|測り|比べ|比較|ベンチマーク|指標|診断")
WHICH_STAGE = re.compile(
    r"どの段階|何段階|段階(で|に)(いう|言う)(と|たら)|段階(は|って)(どこ|何)|段階(やと|だと|では)(どこ|どれ)"
    r"|段階.{0,12}どこに(入|はい|当てはま|あてはま|該当)"
    r"|(DX|段階|デジタル化)[^。？?]{0,10}(どの辺|どのへん|どのあたり|どこら|どの位置)"  # 「DXで言うたらどの辺におるん？」
    r"|(どの辺|どのへん|どのあたり)の段階"  # 「今どのへんの段階なん？」
)
SHUJII = ("regional_bank", "regional_it_vendor", "consultant")  # the guides' 「主治医」, in their order


class Advisor:
    """Answers a conversation from the index. Create once (models load here); `ask` is thread-safe."""

    def __init__(self, settings: Settings, index: SearchIndex, backend: Any = None) -> None:
        self.settings = settings
        self.index = index
        self.pool = SentencePool(index.chunks, index.embedder.embed_documents, index.sentence_vectors())
        self.backend = backend
        self.regions = catalog.lab_regions()
        # Example questions (router, advice cards) are shipped or cached per model (bot.vectors); they
        # bypass the query cache, which is for questions users actually ask.
        embedder = index.embedder
        embed_many = getattr(embedder, "embed_queries", None) or (
            lambda qs: np.vstack([embedder.embed_query(q) for q in qs])
        )
        model_id = getattr(embedder, "model_id", "model")
        examples = ExampleVectors(model_id, settings.data_dir / "cache", lambda: embed_many)
        self.router = IntentRouter(examples, self.regions)
        self.cards = CardIndex(
            examples,
            lambda t: self.pool.idf.get(t, self.pool.default_idf),
            focus=self._asking,
            supporter=is_supporter,
        )
        self.cards.locate(lambda q: chunk.chunk_id if (chunk := self.pool.find_chunk(q)) else None)
        self.writer = SectionWriter(settings, index, self.pool, self.cards, self.regions)
        self.corpus_text = nfkc("\n".join(c.text for c in index.chunks))

    @classmethod
    def from_settings(
        cls, settings: Settings, private_store: bool = False, embedder: Embedder | None = None
    ) -> Advisor:
        """`private_store`: for a long-running server process (see SearchIndex); `embedder`: one already
        loaded (the server reloading a new build)."""
        from ingest.embed import embedder_from_settings

        embedder = embedder or embedder_from_settings(settings)
        index = SearchIndex(settings, embedder, private_store=private_store)
        backend = None
        if settings.llm_backend != "none":
            from bot.llm import create_backend

            backend = create_backend(settings)
        return cls(settings, index, backend)

    def search_guides(
        self, query: str, k: int = 5, doc_ids: list[str] | None = None
    ) -> tuple[str, list[str], list[Hit]]:
        """A staff search of the guides (API, MCP): the checked query, the words searched with it (「柱3-3」→
        the pillar's name) and the hits. Unknown document ids are refused with the known ones."""
        query = check_query(query, self.settings.max_message_chars)
        known = {f.doc_id for f in self.index.meta.files}
        unknown = sorted(set(doc_ids or []) - known)
        if unknown:
            raise QueryError(
                f"文書IDが見つかりません: {', '.join(unknown)}。使えるID: {', '.join(sorted(known))}"
            )
        expansions = expansions_for(query)
        return query, expansions, self.index.search(query, k, doc_ids or None, expansions)

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
        last = messages[-1].content
        if is_courtesy(last):
            # 「ありがとう、参考になった」 asks nothing: a courteous reply, not another answer.
            thanks = THANKS.search(nfkc(last))
            text = (COURTESY_EN if is_mostly_ascii(last) else COURTESY_JA)[0 if thanks else 1]
            return ChatResponse(message_id=uuid.uuid4().hex, answer=text, intent="fact", refused=False)
        part, aside = set_aside(last) if is_off_topic(last) and not is_injection(last) else (None, "")
        if part is not None:
            # 「freeeとマネーフォワードどっちがいい？あと、DXの認定で何か得する？」: the part the guides cover is
            # answered, and the answer says first which part they do not.
            response = self._answer([*messages[:-1], Message(role="user", content=part)])
            # Only what is asked is set aside: 「2024年問題で残業規制も厳しくなって正直きつい。」 tells the
            # business's situation, and the answer does not claim to refuse it.
            if not response.refused and aside:
                response.answer = (
                    f"ご質問のうち「{aside}」は、参照している資料には書かれていないため、お答えできません。"
                    f"ほかの点についてお答えします。\n\n{response.answer}"
                )
            return response
        # Earlier refused turns (injection, off-topic) never steer later answers (the part of a turn that
        # was answered does).
        asked = [
            (i, text)
            for i, m in enumerate(messages[:-1])
            if m.role == "user"
            and not is_injection(m.content)
            and not is_courtesy(m.content)  # (「ありがとう」 between two questions is no turn to lean on)
            and (text := m.content if not is_off_topic(m.content) else set_aside(m.content)[0] or "")
        ]
        user_turns = [text for _, text in asked] + [last]
        # What was answered to each of them (the next assistant message), so that the replay sees what the
        # user saw, as the answers themselves did.
        replies = [
            next((m.content for m in messages[i + 1 : -1] if m.role == "assistant"), "") for i, _ in asked
        ]
        # 「話は変わるけど、…」 starts afresh: no follow-up of the turns before, and the opening is not matched.
        changed = [bool(TOPIC_CHANGE.match(nfkc(t))) for t in user_turns]
        user_turns = [drop_topic_change(t) for t in user_turns]
        question = user_turns[-1]
        english = is_mostly_ascii(question)
        qvec = self.index.embed_query(self._dense_text(question))
        previous = None if changed[-1] else self._replay(user_turns[:-1], changed[:-1], replies)
        before = next((m.content for m in reversed(messages[:-1]) if m.role == "user"), None)
        answered = [
            m.content
            for m in messages[:-1]
            if m.role == "assistant" and m.content not in (*COURTESY_JA, *COURTESY_EN)
        ]
        if previous is not None and answered:
            previous = replace(previous, said=answered[-1])
        turn = self._decide(question, qvec, previous, user_turns, before=before)
        if turn.refused:
            return self._refusal(
                intent_reason="injection" if is_injection(question) else "scope",
                retrieved=[self._retrieved(h) for h in turn.hits],
            )
        card, why, hits, intent, context = turn.card, turn.why, turn.hits, turn.intent, turn.context
        expansions, follow, previous, in_scope = turn.expansions, turn.follow, turn.previous, turn.in_scope
        term, firm = turn.term, turn.firm
        passages = [h.chunk.chunk_id for h in hits]
        if not in_scope:
            return self._refusal(intent_reason="scope", retrieved=[self._retrieved(h) for h in hits])
        situation = " ".join(user_turns)
        unknown = unknown_programmes(question, self.corpus_text)
        if unknown and (money := self.cards.by_id("money-overview")) is not None:
            # 「IT導入補助金の締切は？」: the guides never name it, so no card about another grant answers it;
            # the answer says so first, then what the guides do offer.
            card, why = money, "match"
        # 「Is there anyone I can talk to in English?」: whether an agency helps in English is not in the guides —
        # said first, then how to choose whom to ask.
        in_english = bool(IN_ENGLISH.search(question) and WANTS_HELP.search(question))
        if in_english and (choosing := self.cards.by_id("agency-choose")) is not None:
            card, why = choosing, "match"
        hits = self._ranked(hits, card)
        book = CitationBook(urls=dict(self.index.urls), newer=dict(self.index.newer))
        stage_match = self._stage_match(question, situation, card)
        # (the later stage's example of the owner's work, under where to start or which stage they are at)
        told = situation if card is not None and (card.kind == "start" or card.id in _STAGE_TOPICS) else ""
        stage = self.writer.stage(stage_match, book, hits, english, told) if stage_match else None
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
            body, notice = self.writer.llm_body(
                self.backend, question, messages, hits, book, stage, agencies, card
            )
            mode = "llm" if body is not None else "extractive"
        if body is None and term and _not_about(card, term, why):
            # 「その「RFP」って何？」: what the guides say where they use the word, not the topic's answer again.
            body = self.writer.term(term, english, book, firm=firm is not None) or None
        if body is None:
            if card is not None:
                # 「応募できますか？あと、評価の観点は？」: the other part answered by its own card.
                second = (
                    self._second_card(question, card, passages) if not follow and why == "match" else None
                )
                also = self.writer.also(second[0], second[1], english, book, hits) if second else ""
                if why == "detail" and card.kind == "start" and NOW_TO_DO.search(nfkc(question)):
                    # 「来月までにできることって何かある？」 once the stage's answer was given: its steps.
                    body = self.writer.to_do(card, english, book, hits, lead=False, heard=situation)
                elif (
                    why == "detail"
                    and card.kind == "topic"
                    and not card.id.startswith("case-")  # (what to copy from a case: card_body)
                    and WHAT_TO_DO.search(asked_part(question))
                    # (「専任の担当者を置く余裕はありません。その場合はどうすれば？」: what the guides leave out,
                    # said first by card_body)
                    and not uncovered(card, question)
                ):
                    # 「その人たちに、最初に何を話せばいい？」: the topic's steps — unless the last answer gave them
                    # all (「任せっきりにしないとしたら、社長の私は具体的に何を？」 after who leads): then the next
                    # related topic's (経営者が主導), those not given yet.
                    said = previous.said if previous is not None else ""
                    seen = previous.seen if previous is not None else []
                    if unsaid_steps(card, said, situation):
                        # (some step is new: all of them, in their order)
                        body = self.writer.to_do(card, english, book, hits, lead=False, heard=situation)
                    for other in [self.cards.by_id(r) for r in card.related if r not in seen]:
                        if body:
                            break
                        if other is not None and other.kind == "topic":
                            body = self.writer.to_do(
                                other, english, book, hits, lead=True, heard=situation, said=said
                            )
                            card = other if body else card
                if not body:
                    body = self.writer.card_body(
                        card, why, question, english, book, hits, stage, agencies, previous, also, situation
                    )
                if also and also not in body:
                    body += "\n\n" + also
                if not body and why == "detail" and card.related:
                    # Nothing in the last topic speaks to the follow-up (「その会社ってどこの会社？」 after staff
                    # resistance): the related topic that does, best match first, before the bare passages.
                    seen = previous.seen if previous is not None else []
                    said = previous.said if previous is not None else ""
                    card, body = self._related_detail(
                        card, question, qvec, english, book, hits, seen, said, heard=situation
                    )
                if not body and why == "detail" and OTHERS_ASKED.search(nfkc(question)):
                    # 「ほかに工夫の例があれば」 once the topic's answer was given: the first related topic not
                    # shown yet, in full (後藤組 after staff resistance).
                    seen = previous.seen if previous is not None else []
                    other = next(
                        (
                            c
                            for r in card.related
                            if r not in seen
                            and (c := self.cards.by_id(r)) is not None
                            and c.kind in ("topic", "staff")
                        ),
                        None,
                    )
                    if other is not None:
                        card = other
                        body = self.writer.card_body(
                            card,
                            "match",
                            question,
                            english,
                            book,
                            hits,
                            stage,
                            agencies,
                            previous,
                            "",
                            situation,
                        )
                if not body and why == "detail" and WHAT_TO_DO.search(nfkc(question)):
                    # 「任せっきりにしないなら、社長の私は具体的に何を？」: the topic's steps are the answer.
                    body = self.writer.to_do(card, english, book, hits, lead=False, heard=situation)
                if (
                    not body
                    and why == "detail"
                    and previous is not None
                    and not said_any(
                        card, previous.said, beyond=1 if previous.said.startswith(_VERDICTS) else 0
                    )
                ):
                    # 「それぞれ何が得意なん？使い分けを」 after the chamber's answer: a topic whose own sentences
                    # were not given yet — its answer, not bare passages. (A yes or no with its one sentence is no
                    # answer on the topic yet: 「選ばれた会社ってどんなところがあるの？」 after 「いいえ。DX認定を
                    # 取得すると…他薦での応募は可能です。」)
                    body = self.writer.card_body(
                        card, "match", question, english, book, hits, stage, agencies, previous, "", situation
                    )
            if not body:
                # No card fits: the passages themselves, framed as such (a start question gets no stitched
                # "first steps" from them).
                plain: Intent = intent
                if intent == "start" or (intent == "agency" and not ASKS_WHO.search(nfkc(question))):
                    plain = "fact"  # the router's vote alone does not turn passages into a list of agencies
                # A follow-up on a topic whose card says nothing to it: only passages that share one of its
                # words (「ベテランが辞めるって言ってる」 gets no passages about 人材・情報・資金の不足)…
                named = None
                if card is not None and why == "detail" and not english:
                    named = specific_words(question) | (
                        # (a case's passages all speak of what that firm did: 「選ばれた会社はどんなことを？」)
                        title_words(card) if card.id.startswith("case-") else frozenset()
                    )
                body = self.writer.compose(
                    # (a question naming nothing specific — 「うちの社員がなることもできる？」 — filters nothing)
                    plain,
                    question,
                    context,
                    expansions,
                    hits,
                    book,
                    agencies,
                    must_name=named or None,
                )
                own = turn.best.card if turn.best is not None and turn.best.score >= CARD_MIN_SCORE else None
                if (
                    not body
                    and why == "detail"
                    and own is not None
                    and own is not card
                    and (own.kind != "staff" or is_supporter(situation))
                    and (cued(own, question) or names_subject(own, question))
                    and not english
                ):
                    # Nothing in the last topic speaks to the follow-up, but the question names another topic the
                    # way askers do (「その銀行のDXアドバイザー制度で、一番下のレベルになるには何が必要？」 after
                    # the cases): that topic's answer, not a claim that the guides do not say.
                    body = self.writer.card_body(
                        own, "match", question, english, book, hits, stage, agencies, previous, "", situation
                    )
                    card = own if body else card
                if not body and card is not None:
                    # …else that the guides do not say, and what they do say on the topic.
                    seen = previous.seen if previous is not None else []
                    later = [c for r in card.related if r not in seen and (c := self.cards.by_id(r))]
                    said = previous.said if previous is not None else ""
                    body = self.writer.unanswered(card, english, book, hits, said, later[:3], agencies)
                if english:
                    body = LABELS["en"]["fallback"] + "\n\n" + body
        body = self.writer.grounded(body, book)
        if unknown:
            body = _unknown_note(unknown, english) + "\n\n" + body
        if in_english:
            body = _ENGLISH_NOTE["en" if english else "ja"] + "\n\n" + body
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
    def _decide(
        self,
        question: str,
        qvec: np.ndarray,
        previous: TurnState | None,
        user_turns: list[str],
        before: str | None = None,
    ) -> _Turn:
        """This turn's card, why, search and whether the guides cover it — the same for the answer and for
        the replay of the turns before it (`before`: the user's message before this one, refused or not)."""
        follow = is_follow_up(question, previous)
        hits, intent, context, expansions = self._search(question, qvec, user_turns, previous)
        if intent == "out_of_scope" or is_injection(question):
            return _Turn(
                None, "none", None, hits, intent, context, expansions, follow, previous, False, refused=True
            )
        passages = [h.chunk.chunk_id for h in hits]
        card, why, best = self._resolve(question, qvec, previous, " ".join(user_turns), passages)
        term = asked_term(question)
        firm = asked_org(question) if term is None else None
        if firm is not None and firm in self.corpus_text and not self._carded(firm):
            term = (
                firm  # 「その樋口製作所って、どんなDX？」: only a name in a list — what the guides say of it
            )
        else:
            firm = None
        whom_only = (
            before is not None and len(nfkc(question)) <= WHOM_ONLY and bool(ASKS_WHO.search(nfkc(question)))
        )
        if whom_only and (previous is None or previous.card is None):
            # With no topic before it: the agency the question before it speaks of (「経費で落とせる？」→ 税理士,
            # even when that question was refused), else how to choose among the agencies.
            spoken = [m for m in match_agencies(before, limit=3) if m.keyword_hits > 0] if before else []
            own_card = self.cards.by_id(AGENCY_CARDS.get(spoken[0].agency.id, "")) if spoken else None
            card, why = own_card or self.cards.by_id("agency-choose") or card, "match"
        in_scope = (
            self._answerable(question, hits, expansions, context, follow, previous, best)
            # 「歯科医院です。患者さんの個人情報が漏れるのが怖い」: a subject the guides cover, named the way askers
            # name it (a card's cues), whatever else the message is about
            or any(c is not None and cued(c, question) for c in (card, best.card if best else None))
            or (
                term is not None and term in self.corpus_text
            )  # 「BPOとは？」 asks about the guides' own word
            # 「じゃあそういうことは誰に聞けばいいの？」 after a question the guides do not answer: whom to ask is
            # what they do cover.
            or whom_only
        )
        if not in_scope and not follow and previous is not None and previous.card is not None:
            # 「導入したあと自分たちだけで回せるようになる？」 says nothing the guides cover by itself, but
            # continues the topic before it: read it as a follow-up, and answer if it is in scope so read.
            previous = replace(previous, leaning=True)
            follow = True
            hits, intent, context, expansions = self._search(question, qvec, user_turns, previous)
            passages = [h.chunk.chunk_id for h in hits]
            card, why, best = self._resolve(question, qvec, previous, " ".join(user_turns), passages)
            in_scope = self._in_scope(context, hits, expansions) or self._clear_match(best)
        return _Turn(
            card, why, best, hits, intent, context, expansions, follow, previous, in_scope, term, firm
        )

    def _choose(
        self,
        question: str,
        qvec: np.ndarray,
        previous: TurnState | None,
        passages: list[str],
        top: CardHit | None,
        supporter: bool = False,
    ) -> tuple[Card | None, str]:
        """`top`: the question's own best card match; `supporter`: the conversation is with support staff."""
        matches = match_agencies(question, limit=11)
        # The agency the owner names (「信金」「税理士さん」), not one whose topic words they use (「セキュリティ」).
        lowered = nfkc(question).lower()
        naming = [m.agency.id for m in matches if names_agency(lowered, m.agency.names)]
        named = naming[0] if naming else None
        choosing = self.cards.by_id("agency-choose")
        if len(set(naming)) >= 2 and _CHOICE.search(lowered) and choosing is not None:
            # 「地元の銀行と商工会議所、どっちがいいですか？」: a choice between the kinds it names.
            return choosing, "match"
        # 「福岡市で相談できる拠点は？」 names a lab region and asks for support without naming an agency type.
        # (「銀行以外にも…支援してくれる仕組み」 sets the bank aside: it asks about others)
        besides = re.sub(r"[^、。？?\s]{1,12}以外(にも|に|の|で)?", "", nfkc(question))
        # 「沖縄にも相談できるところあるわけ？」: a place to ask in the prefecture named (its labs, or none).
        place_asked = bool(named_prefecture(question) and PLACE_TO_ASK.search(asked_part(question)))
        if (
            not _names_other_agency(
                match_agencies(besides, limit=11) if besides != nfkc(question) else matches
            )
            # 「東大阪です。DX推進指標ってお金かかる？どこかに頼む？」 names its subject: not the labs.
            and not (top is not None and top.card.kind != "region" and names_all(top.card, question))
            # 「埼玉です。人を育てるのに使える国の支援は？」 asks for one kind of support, which a topic answers.
            and not (
                KIND_OF_SUPPORT.search(nfkc(question))
                and top is not None
                and top.card.kind not in ("region", "start")
                and top.score >= CARD_MIN_SCORE
            )
            # (「Is there any local DX support in Tokyo?」: a prefecture whose labs are towns in it, or none)
            and (
                find_regions(question, self.regions)
                or (named_prefecture(question) and PROGRAMME.search(question))
                or place_asked
            )
            # …and asks about local support, or for support, not where to begin (「I'm in Fukuoka. Where do I
            # begin?」) nor about a topic that matched (「…in Osaka. What does DX certification require?」)
            # (in what is asked: 「地元のソフト会社に作ってもらったシステム」 describes the business)
            and (
                LOCAL.search(asking := asked_part(question))
                or PROGRAMME.search(asking)
                or place_asked
                or (
                    ASKS_SUPPORT.search(asking)
                    and not STARTING.search(nfkc(question))
                    and not (
                        top is not None
                        and top.card.kind in ("topic", "clause")
                        and top.score >= CARD_MIN_SCORE
                    )
                )
            )
            # 「燕市って地域で何かやってる？近くで相談できるところは？」 after another topic asks about the place.
            # (「茨城だと、いろんな機関がまとまって支援してくれる仕組みがあるって聞いた」 names the place and asks
            # about a programme there.)
            and (
                not is_follow_up(question, previous)
                or LOCAL.search(nfkc(question))
                or (find_regions(question, self.regions) and PROGRAMME.search(asked_part(question)))
                or place_asked
            )
            and (lab := self.cards.by_id("lab-regions")) is not None
        ):
            # 「燕市のラボに関わるとどんなメリットが？」 asks what a lab does, not where the labs are.
            # (「恩納村も選ばれてるって聞いたけど、うちみたいなホテルも何か支援受けられるの？」: what it offers)
            role = ROLE.search(nfkc(question)) or WHAT_FOR_US.search(nfkc(question))
            about = self.cards.by_id("regional-dx-lab") if role else None
            # (a place asked for in a prefecture the rule alone reads: no clear match of 相談 overrides it)
            return about or lab, "place" if place_asked else "region"
        if (
            previous is not None
            and previous.card is not None
            and previous.card.kind == "region"
            and find_regions(question, self.regions)
            and (top is None or top.card is previous.card or top.score < CARD_MIN_SCORE)
            # (「大分県は入ってますか？入ってたら、うちは何をしてもらえる？」: what a lab does for them)
            and not WHAT_FOR_US.search(nfkc(question))
        ):
            # 「When was Sapporo selected?」 after the labs: more about the place, nothing else matching.
            return previous.card, "detail"
        if (
            is_supporter(question)
            and not is_follow_up(question, previous)
            and clause_card_id(question) is None
        ):
            # Support staff asking how to support: the guidance written for them, not an owner's answer.
            fitting = [
                h
                for h in self.cards.rank(question, qvec, n=10, passages=passages, opening=previous is None)
                if (
                    h.card.kind in ("staff", "topic", "clause")
                    # (「ラボの構成員に求められる要件は？」 from a city official: the lab's own card, which names it)
                    or (h.card.kind in ("region", "agency") and names_all(h.card, question))
                )
                and h.score >= CARD_MIN_SCORE - STAFF_MARGIN
            ]
            # 「士業もDXの支援役として期待されていると聞いたのですが、本当ですか？」: what the guides say of that
            # kind of agency (the asked sentence names it and asks about its role).
            part = asked_part(question)
            own_kind = next(
                (
                    card
                    for m in (match_agencies(part, limit=11) if _SUPPORT_ROLE.search(part) else [])
                    if names_agency(part.lower(), m.agency.names)
                    and m.agency.id
                    not in SHUJII  # (their role is the guidance's 「主治医」: the staff cards)
                    and (card := self.cards.by_id(AGENCY_CARDS.get(m.agency.id, ""))) is not None
                ),
                None,
            )
            if own_kind is not None:
                return own_kind, "supporter"
            # Among those that fit nearly as well, the one written for support staff.
            staff = [
                h for h in fitting if h.card.kind == "staff" and h.score >= fitting[0].score - STAFF_MARGIN
            ]
            if fitting:
                chosen = (staff or fitting)[0]
                # …unless another names more of what is asked (「3つの視点をどう伝える？」: the code's viewpoints,
                # not the list of policy tools that also names the code).
                # (not 「経営指導員です」; nor 「支援」, which every supporter's question says: 「支援先に勧めるとき」)
                asked = set(content_words(asked_sentence(question) or question)) - {"支援"}
                near = {
                    h.card.id: asked & title_words(h.card)
                    for h in fitting
                    if h.score >= fitting[0].score - STAFF_MARGIN
                }
                # (Words all their titles share tell none apart: 「支援機関としての心構えは？」.)
                shared = set.intersection(*near.values()) if near else set()
                named_words = {card_id: len(named - shared) for card_id, named in near.items()}
                better = max(fitting, key=lambda h: named_words.get(h.card.id, -1))
                if named_words.get(better.card.id, -1) > named_words.get(chosen.card.id, 0):
                    chosen = better
                # 「ラボへの応募を検討しています。選定の要件と…」: a card the question names the way askers speak
                # of its subject (its cues), when it fits nearly as well, over the list of selected regions.
                # (The asking sentence first; else the whole message: 「ラボへの応募を検討しています。選定の要件、
                # 特に構成員の条件と…を確認させてください。」 names the lab in the sentence before.)
                for said in (part, nfkc(question)):
                    spoken = [
                        h
                        for h in fitting
                        if h.score >= fitting[0].score - CUE_MARGIN
                        and h.card.kind != "topic"  # (an owner's topic does not take a supporter's question)
                        and cued(h.card, said)
                    ]
                    if spoken and not cued(chosen.card, said):
                        chosen = spoken[0]
                    if spoken:
                        break
                if previous is not None and previous.card is chosen.card:
                    # (「当所の職員がITCアソシエイトになったら、どんな役割を？」 after what it is: what speaks to
                    # this question, not the same answer again)
                    return chosen.card, "detail"
                return chosen.card, "supporter"
        terms = english_terms(question) if is_mostly_ascii(question) else []
        card, why = choose_card(
            self.cards, question, qvec, previous, self.index.embed_query, named, passages, terms
        )
        if supporter and card is not None and card.kind == "topic" and why == "match":
            # In a conversation with support staff, the guidance written for them when it fits nearly as well
            # (「システム開発まで銀行が自前で？」: the bank-as-PMO model, not the owner's 「who leads」).
            ranked = self.cards.rank(question, qvec, n=5, passages=passages, opening=previous is None)
            top_score = next((h.score for h in ranked if h.card is card), 0.0)
            for_staff = next((h for h in ranked if h.card.kind == "staff"), None)
            if for_staff is not None and for_staff.score >= top_score - STAFF_MARGIN:
                card = for_staff.card
        if (
            named is not None
            # (「信金に聞いてもいい？」 is about that one agency; 「銀行とITC、どっちがいい？」 is a choice.)
            and (
                card is None
                or card.kind in ("staff", "topic", "start")
                or (card.id == "agency-choose" and len(naming) == 1)
            )
            and why != "bring"
            and (ROLE.search(nfkc(question)) or is_follow_up(question, previous))
            # 「何のツールを使ってるの？」 asks a fact, not for a seller; 「地元の銀行から借りるときも？」 names
            # the bank as a lender, not someone to consult about DX.
            and not asks_fact(question)
            and not LENDING.search(nfkc(question))
            # 「My bank mentioned "DX nintei". What is it…?」: the bank only told them of the subject asked about
            and not HEARSAY.search(nfkc(question))
            # (a supporter's follow-up — 「参考になる銀行の事例は？」 — is about supporting, not that agency)
            and not (previous is not None and previous.card is not None and previous.card.kind == "staff")
            and (own := self.cards.by_id(AGENCY_CARDS.get(named, ""))) is not None
            and own.id not in (previous.shown if previous else [])
        ):
            # 「地元のITベンダーにはどんな役割を期待すれば？」「社労士さんはどう？」: about that agency.
            return own, "match"
        if card is not None and card.kind == "staff" and why == "match" and not supporter:
            # Staff cards speak to supporters. An owner speaking of their own business never gets one; any
            # other asker gets an owner's card instead when one fits nearly as well. (A bank's adviser
            # who said so earlier is still one: 「システム開発まで銀行が自分でやる必要は？」.)
            shown = set(previous.shown) if previous else set()
            ranked = self.cards.rank(question, qvec, n=10, passages=passages, opening=previous is None)
            owner = next((h for h in ranked if h.card.kind != "staff" and h.card.id not in shown), None)
            if owner is not None and (
                OWNER_VOICE.search(nfkc(question))
                or not (ABOUT_SUPPORT.search(nfkc(question)) or names_subject(card, nfkc(question)))
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

    def _second_card(self, question: str, card: Card, passages: list[str]) -> tuple[Card, str] | None:
        """For a message that asks two things, the card that answers the part the main card does not: among
        the part's best matches, one that names what the part asks about (not a start or clause card). None
        for a message that asks one thing."""
        if card.kind in ("clause", "start") or is_mostly_ascii(question):
            return None
        parts = asking_parts(question)
        if len(parts) < 2:
            return None
        for part in parts:
            if speaks_to(card, part) or names_all(card, part):
                continue  # the main card answers this part
            if not any(c.kind not in ("start", "clause") and names_all(c, part) for c in self.cards.cards):
                continue  # no card names what the part asks about (and only such a card is taken below)
            ranked = self.cards.rank(part, self.index.embed_query(part), n=SECOND_DEPTH, passages=passages)
            if any(h.card.id == card.id for h in ranked):
                continue
            # A part alone says little (「他にも認定取ったらどんな得が？」): the card must name what it asks about.
            other = next(
                (
                    h
                    for h in ranked
                    if h.card.kind not in ("start", "clause")
                    and h.score >= CARD_MIN_SCORE
                    and names_all(h.card, part)
                ),
                None,
            )
            if other is not None:
                return other.card, part
        return None

    def _answerable(
        self,
        question: str,
        hits: list[Hit],
        expansions: list[str],
        context: str,
        follow: bool,
        previous: TurnState | None,
        best: CardHit | None,
    ) -> bool:
        """In scope: the question itself, a follow-up read with the turn before it (「And the normal
        rate?」), an owner describing the business, or a clear match with an advice card."""
        return (
            self._in_scope(question, hits, expansions)
            or (follow and self._in_scope(context, hits, expansions))
            or (follow and previous is not None and previous.card is not None)
            or estimate_stage(question) is not None
            or self._clear_match(best)
        )

    @staticmethod
    def _clear_match(best: CardHit | None) -> bool:
        return (
            best is not None
            and best.score >= CARD_MIN_SCORE + SCOPE_MARGIN
            and best.dense >= SCOPE_CARD_DENSE
        )

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
        ranked = self.cards.rank(
            question, qvec, n=len(self.cards.cards), passages=passages, opening=previous is None
        )
        own = ranked[:CUE_DEPTH]
        card, why = self._choose(
            question, qvec, previous, passages, own[0] if own else None, is_supporter(situation)
        )
        # A clear match is the message's own, not one that similar labelled messages' votes made clear
        # (「美容室…うちくらいの規模でもDXって関係ありますか？」 still gets where the salon stands): the ranking
        # again, without the votes.
        alone = sorted(
            (replace(h, score=h.score - h.votes, votes=0.0) for h in ranked),
            key=lambda h: (round(h.score, 3), h.dense),
            reverse=True,
        )[:2]
        clear = (
            alone[0]
            if len(alone) > 1
            and alone[0].score >= CARD_MIN_SCORE
            and alone[0].score - alone[1].score >= CLEAR_MARGIN
            else None
        )
        if (
            clear is not None
            and card is not clear.card
            and why
            not in ("clause", "next", "bring", "money", "detail", "supporter", "short", "related", "place")
            and (clear.card.kind != "staff" or is_supporter(situation))
            and not declines(clear.card, nfkc(question))  # 「公庫じゃなくて…」
            # 「その中で、地域DX推進ラボにはどういう役割が？」: the card that names the subject in full stays.
            and not (card is not None and names_all(card, question) and not names_all(clear.card, question))
            # 「…「紙でええやん」て総スカン」: a card named by how askers speak of its subject stays too.
            and not (
                card is not None
                and card.cues
                and names_subject(card, question)
                and not names_subject(clear.card, question)
            )
            # 「…何をどの順番でやればいいのか」: the order of DX, whatever the description matches.
            and not asks_order(card, question)
            # 「それ、誰に頼めばいいの？」 after a topic: whom to go to, whatever the words resemble.
            and not (card is not None and card.id == "agency-choose" and asks_whom(question))
        ):
            # 「常陽銀行の事例で相談件数は？」 after the bank's PMO role: the question by itself points clearly at
            # one card, so the rules for unclear cases (the agency named, the best of the topic before and the
            # question) do not override it. (What the conversation asks for — a clause, the next stage, what to
            # bring, the cost or a detail of the last topic — still decides; staff cards go to supporters.)
            card = clear.card
            # (A topic only touched on before — the grand prix named under DXセレクション — is answered in full:
            # 「グランプリの会社ってどんなことしてたの？」.)
            why = (
                "detail"
                if previous is not None and card.id in previous.seen and said_any(card, previous.said)
                else "match"
            )
        text = nfkc(question)
        fresh = not is_follow_up(question, previous)
        parts = asking_parts(question) if fresh and why == "match" and not is_mostly_ascii(question) else []
        if len(parts) > 1 and any(names_all(c, parts[0]) for c in self.cards.cards):
            # 「DX推進指標って何？あと、ラボは何をしてくれるところ？」: answered in the order asked — the first
            # part's card leads when it names what that part asks about (the other part gets its own card;
            # a first part that names no card's subject is not embedded at all).
            first = self.cards.rank(
                parts[0], self.index.embed_query(parts[0]), n=1, passages=passages, opening=previous is None
            )
            if first and first[0].score >= CARD_MIN_SCORE and names_all(first[0].card, parts[0]):
                card = first[0].card
        # (Not in English: 「What is it, …?」 leaves its subject in the sentence before.)
        matched = card is not None and why == "match"
        asked = (
            asked_sentence(question)
            if (card is None or matched) and fresh and not is_mostly_ascii(question) and clear is None
            else None
        )
        if asked is not None and (
            (ASKS_STAGE.search(nfkc(asked)) and not MEASURE.search(nfkc(asked)))
            or POINTING_BACK.match(nfkc(asked))
        ):
            # 「…これって何段階目？」 is answered from the description, not by matching 「段階目」; 「…これ、どうにか
            # ならない？」 asks about the description itself.
            asked = None
        whole = own[0].score if own else 0.0
        if asked is not None and (
            card is None
            # (the ranking already weighed the asking sentences of a message that describes the business)
            or (whole < CARD_MIN_SCORE + ASKED_MARGIN and self._asking(question) is None)
        ):
            # The description of the business dilutes what is asked: the asking sentence by itself — taken
            # when nothing matched the whole message, or when it matches clearly better than the whole did…
            # (a whole message that matched well keeps its card: no second embedding to find that out)
            best = self.cards.rank(
                asked, self.index.embed_query(asked), n=1, passages=passages, opening=previous is None
            )
            if (
                best
                and best[0].score >= CARD_MIN_SCORE
                and best[0].card.kind != "start"
                and (best[0].card.kind != "staff" or is_supporter(situation))  # staff cards go to supporters
                # …and only over a whole message that matched weakly (「セキュリティについて…」 is clear as is)
                and (
                    card is None
                    or (whole < CARD_MIN_SCORE + ASKED_MARGIN and best[0].score >= whole + ASKED_MARGIN)
                )
            ):
                card, why = best[0].card, "match"
        # A start card came from the description, not from what is asked — unless where to begin is asked.
        from_description = card is not None and card.kind == "start" and not BEGINNING.search(text)
        by_cue = None
        if card is None or (
            why in ("match", "detail", "money")
            # (「…売上データは誰も見てへん。DXで言うたらどの辺？」: the stage)
            and not (WHICH_STAGE.search(text) or OWN_STAGE_ASKED.search(text))
            and (
                # A card its own cues do not name (「選ばれた場合に受けられる支援メニューを全部」 after the lab
                # regions: the lab's, by its cues)…
                not cued(card, text)
                # …or, even when they do, a start card drawn by the description, an English question (「…or an
                # IT company?」 names the vendor card's 「IT」 in passing) or a description that asks nothing.
                or from_description
                or is_mostly_ascii(question)
                or (fresh and not asks_anything(question))
            )
            # (「うちみたいな15人でも真似できると？」 after 後藤組 is asked in the words of a sentence that card
            # keeps for it: no other card's cues take it)
            and not (card is not None and card.keeps_for(question))
            # (「予約管理のアプリ、どれが一番安い？」 was given the card on the products the guides do not name)
            and not (why == "detail" and asks_product(question))
        ):
            # 「タブレットにしようとしたら「今さら覚えられん」って猛反発」: a close card named by how askers speak
            # of its subject (its `cues`) over one that only the other words drew in. (「親父は「機械はいらん」の
            # 一点張りで。どう話を持っていったら」 after the funeral home's description: how to persuade him.)
            by_cue = next(
                (
                    h.card
                    for h in ranked  # (a card its cues name may rank low: its score still counts)
                    if h.score >= CARD_MIN_SCORE - CUE_MARGIN
                    and cued(h.card, text)
                    and not declines(h.card, text)  # (「公庫じゃなくて」 names the loan it sets aside)
                    # (「『地域DX推進ラボ』に…選ばれたら何の支援が？」 names the lab in full: not DXセレクション's
                    # 「選ばれたら」)
                    and not (
                        card is not None and names_all(card, question) and not names_all(h.card, question)
                    )
                ),
                None,
            )
            if by_cue is not None and by_cue is not card and why == "detail":
                # A detail of the last topic turned into another topic its cues name: that one in full unless
                # its answer was given (「グランプリの会社ってどんなことしてたの？」 after DXセレクション).
                why = "detail" if previous is not None and said_any(by_cue, previous.said) else "match"
            card = by_cue or card
        if (
            card is not None
            and card.kind == "clause"
            and why == "match"
            and not is_supporter(situation)
            and clause_card_id(text) is None
            and not CLAUSE_ASKED.search(text)  # (「全部」 alone asks for no text: 「全部業者任せでしたが…」)
        ):
            # 「システムは全部業者任せでしたが、セキュリティの責任も業者にあるんですよね？」: an owner's question, not
            # a request for the code's text — the owner's card on it that fits nearly as well answers it.
            near = [h.card for h in own if h.card.kind == "topic" and h.score >= CARD_MIN_SCORE - CUE_MARGIN]
            card = next(
                (c for c in near if cued(c, text)),
                next((c for c in near if names_subject(c, text)), card),
            )
            if card.kind != "clause" and previous is not None and said_any(card, previous.said):
                why = "detail"  # (「倉庫業だと、具体的にどんな指標を？」 after that topic: not its answer again)
        asking = asking_text(question) if fresh and not is_mostly_ascii(question) else None
        if (
            asking is not None
            and card is not None
            and why in ("match", "supporter")  # (a supporter asking about the lab gets the lab's card)
            and card is not by_cue
            and card.kind in ("topic", "staff")
            and not names_subject(card, question)  # (a card the message names by itself stays)
        ):
            # 「税理士事務所です。…紙の領収書…DX推進指標って小さい事務所でも意味ありますか？」: the programme the
            # asking sentence names in full (DX推進指標, DX認定, DXセレクション…) over a card the description drew.
            card = next(
                (
                    h.card
                    for h in ranked
                    if h.card.kind in ("topic", "region")  # (「地域DX推進ラボは全国で何地域？」: the regions)
                    and names_all(h.card, asking)
                    and h.score >= CARD_MIN_SCORE - CUE_MARGIN
                ),
                card,
            )
        if (
            fresh
            and card is not None
            and card.id.startswith("case-")
            and why == "match"
            and not cued(card, text)
            and not ASKS_CASE.search(text)
            # (「現場の人がアプリを作ってるらしいけど、何のツール？」 after the grand prix: the case was named)
            and not (previous is not None and cued(card, previous.said))
        ):
            # 「建設会社です…『DXセレクションに出してみたら』と言われた。どうやって応募する？」: a case's card answers
            # questions about that case (or for an example), not every firm that resembles it.
            card = next(
                (
                    h.card
                    for h in own
                    if h.card is not card
                    and names_subject(h.card, text)
                    and h.score >= CARD_MIN_SCORE - CUE_MARGIN
                ),
                card,
            )
        if (
            card is not None
            and card.kind == "topic"
            and why in ("match", "detail")
            and not is_supporter(situation)
            and EXAMPLE_WANTED.search(text)
        ):
            # 「現場を巻き込むうえで実際にうまくいった進め方の例はありますか？」: the guides' case (後藤組) when it
            # fits nearly as well as the topic — an example, not the topic's general points; after a topic, its
            # related case (「その「巻き込む」ので参考になる実例とかあるん？よそがどないしたか知りたい」).
            top_score = next((h.score for h in ranked if h.card is card), 0.0)
            case = next(
                (
                    h.card
                    for h in ranked
                    if h.card.id.startswith("case-")
                    and h.score >= max(CARD_MIN_SCORE - CUE_MARGIN, top_score - CASE_MARGIN)
                ),
                None,
            ) or (
                next((c for r in card.related if r.startswith("case-") and (c := self.cards.by_id(r))), None)
                if why == "detail"
                else None
            )
            if case is not None:
                card = case
                why = "detail" if previous is not None and case.id in previous.seen else "match"
        described = estimate_stage(question) if fresh else None
        # An English question names its subject in English (「DX certification」): with its Japanese terms.
        named = text + " " + " ".join(expansions_for(question)) if is_mostly_ascii(question) else text
        starting = fresh and bool(STARTING.search(text) or HELP_ASKED.search(asked_part(text)))
        # 「ほな、うちみたいな店って今どのへんの段階なん？」 after describing the shop: its own stage.
        told = bool(
            WHICH_STAGE.search(text) and OWN_FIRM.search(text) and estimate_stage(situation) is not None
        )
        general = card is None or (
            why == "match"
            # (a clear match drawn by the description alone does not answer where to start: 「ラーメン屋です。
            # …なにから手ぇつけたらええのか」 is no question about staff resistance)
            # (nor whether DX concerns them: 「仕立て屋…こんな小さい店でもDXって関係ある？」 is no question about
            # having no budget)
            and (
                clear is None
                or card is not clear.card
                or ((starting or RELEVANCE.search(text)) and described and not cued(card, text))
            )
            # (named in what is asked, when it asks where to start: 「…売上はレジの日報を手で集計してます。何から
            # 始めれば？」 describes its sales, it does not ask about using their data)
            and (
                card.id in GENERAL_CARDS
                or (
                    card.kind == "topic"
                    and not names_subject(
                        card, asked_part(named) if starting and not cued(card, text) else named
                    )
                )
            )
        )
        if (
            card is not None
            and why == "match"
            and is_mostly_ascii(question)
            and not names_subject(card, named)
            and card is not by_cue  # (「Who should I talk to first…?」 was named by the cues)
        ):
            # 「Our bank suggested "DX certification". What is it…?」: the card that names it (by its
            # Japanese term) over one the other words drew in.
            naming = next(
                (
                    h
                    for h in self.cards.rank(named, qvec, n=8, opening=previous is None)
                    if names_subject(h.card, named)
                    and h.score >= CARD_MIN_SCORE - ENGLISH_NAME_MARGIN
                    # (「My bank mentioned "DX nintei"」: what the bank mentioned, not the bank)
                    and not (h.card.kind in ("agency", "staff") and HEARSAY.search(text))
                ),
                None,
            )
            card = naming.card if naming is not None else card
        # (a start card drawn by the description — or by the votes of owners who described theirs — answers
        # where to start, not whether DX concerns them: 「ウチみたいな店でも関係あるん？何から…？」 gets both)
        # (「DX推進指標っていうのがあると聞きました。うちみたいな30人の会社が使っても意味はありますか？」: whether
        # the thing named is worth it — the card that names all of it, not whether DX itself concerns the firm)
        worth = (
            next(
                (
                    h.card
                    for h in ranked
                    if h.card.kind == "topic"
                    and h.card.id not in GENERAL_CARDS
                    and names_all(h.card, question)
                ),
                None,
            )
            if RELEVANCE.search(text) and (general or (card is not None and card.kind == "start"))
            else None
        )
        if worth is not None:
            card, why = worth, "match"
        relevance = (
            (general or (card is not None and card.kind == "start"))
            and fresh
            and bool(RELEVANCE.search(text))
            # (「…mentioned "DX certification". Is it worth it for a company this small?」: whether that is)
            and not (card is not None and card.kind == "topic" and names_subject(card, named))
        )
        if (
            not fresh
            and why == "detail"
            and card is not None
            and card.id in GENERAL_CARDS - {"why-dx"}
            and RELEVANCE.search(text)
            # (「それって補助金にも関係ある？」 names another subject)
            and not any(names_all(c, text) or cued(c, text) for c in self.cards.cards)
        ):
            # 「うちは仏壇屋ですけど関係あります？」 after what DX is: whether it concerns this firm — why DX
            # matters for SMEs, not a detail of the definition.
            card, why = self.cards.by_id("why-dx"), "match"
        elif relevance and (not (described or starting) or PERSUADING.search(text)):
            # 「小さな店でもDXに取り組む意味はある？」; 「…親父は今のやり方で回ってるって。DXやる意味ってどう説明
            # したら？」 asks for the case for DX, not where the firm stands.
            card, why = self.cards.by_id("why-dx"), "match"
        elif (
            relevance
            # 「予約をネットで受けたら次の段階？」 with no better card: where the firm stands.
            or (card is None and (described or starting or NEXT_STAGE.search(text)))
            or (general and starting and (described or BUSINESS.search(text)))
            # 「今は手書きの台帳と電話だけ。」: a description (「20年前のシステムが不安。」 is about that system)
            # (「…銀行の人が、認定を取ったら公庫で安く借りれるとか言うとった」 is about what its cues name)
            or (
                described
                and not asks_anything(question)
                and clear is None
                and (by_cue is None or card is not by_cue)
            )
        ):
            # Where to start, or an owner describing the business: the start card of their stage. Asked
            # whether DX concerns them at all, the answer says so first (why-dx leads it).
            card, why = self.cards.by_id("start-general"), "relevance" if relevance else "match"
        elif (
            card is not None
            and card.id in LEADING
            and cued(card, text)
            and (described or starting)
            and previous is None
        ):
            # 「…修理の受付は電話とメモ…IT担当を雇う余裕なんてない。こんなんでもやれるもんかい？」: where this
            # firm stands and starts, led by whether a firm like it can do DX at all.
            why = LEADING[card.id]
            card = self.cards.by_id("start-general")
        elif (
            # (a follow-up with no card too: 「うちって、国の言う段階でいうとどのへん？」 after describing the shop)
            (fresh or card is None)
            and (general or (described is not None and BUSINESS.search(text)))
            and WHICH_STAGE.search(text)
            and (card is None or card.kind != "start")
        ):
            # 「クラウドの顧客管理に移すのって、DXのどの段階の取組？」: the four stages and their examples.
            # 「受注はFAX、勤怠は紙…うちはどの段階？」: where the firm stands, then what to do from there.
            mine = (described is not None and (MY_STAGE.search(text) or BUSINESS.search(text))) or told
            card, why = self.cards.by_id("start-general" if mine else "stages-overview"), "match"
        elif (
            fresh
            and card is not None
            and card.id == "stages-overview"
            and ((described and MY_STAGE.search(text)) or told)
        ):
            card, why = self.cards.by_id("start-general"), "match"  # (the stages' own card drew it)
        elif (
            card is None
            and ASKS_WHO.search(text)
            and "agency-choose" not in (previous.shown if previous else [])
        ):
            # 「手伝ってくれるところってある？」 with no better card: how to choose whom to consult.
            card, why = self.cards.by_id("agency-choose"), "match"
        if (
            why == "detail"
            and card is not None
            and card.kind not in ("start", "agency")
            and STARTING.search(text)
            and not SAME_ENTITY.search(text)  # (「その人たちに、最初に何を話せば？」 is about those staff)
        ):
            # 「うちの場合、まず何から手をつければ？」 after what DX is: where to start, not a detail of that topic.
            card, why = self.cards.by_id("start-general"), "match"
        if card is not None and card.id == "dx-cert-how" and fresh and WORTH_ASKED.search(text):
            # 「DX認定って、うちみたいな小さい会社が取って意味ある？」 asks what it brings, not how to get it.
            merits = next(
                (
                    h
                    for h in self.cards.rank(question, qvec, n=4, passages=passages, opening=previous is None)
                    if h.card.id == "dx-cert-merits"
                ),
                None,
            )
            card = merits.card if merits is not None else card
        lab = self.cards.by_id("regional-dx-lab")
        if (
            card is not None
            and card.kind == "region"
            and why == "match"
            and lab is not None
            and (
                (
                    ROLE.search(text)
                    and not re.search(r"どこ|選ばれ|選定|入って|where|which", text, re.IGNORECASE)
                )
                # 「ラボの構成員に自治体は必ず入っていないといけない？」: the lab's card says yes to it
                or self.writer.verdict(lab, question) is not None
            )
        ):
            # 「『地域DX推進ラボ』の説明会の案内が来たんですが、これ、何ですか？」: what a lab is, not where they are.
            card = lab
        if card is not None and card.id == "start-general":
            stage_match = estimate_stage(situation)
            staged = self.cards.by_id(f"start-stage{stage_match.stage.level}") if stage_match else None
            if staged is not None and staged.id not in (previous.shown if previous else []):
                card = staged
            elif staged is not None and (WHICH_STAGE.search(text) or OWN_STAGE_ASKED.search(text)):
                # 「ほな、うちみたいな店って今どのへんの段階なん？」 after that stage's answer: where the firm
                # stands, not the general first steps said again.
                card, why = staged, "detail"
        elif (
            card is not None
            and card.id.startswith("start-stage")
            and why == "match"
            and not STAGE_NAMED.search(text)
        ):
            # 「A4一枚とかでもいいの？」 matched the stage-1 card for an owner read at stage 2: the owner's own
            # stage, or (shown already) the topic before, never another stage's first steps.
            stage_match = estimate_stage(situation)
            if stage_match is not None and card.id != f"start-stage{stage_match.stage.level}":
                staged = self.cards.by_id(f"start-stage{stage_match.stage.level}")
                if staged is not None and staged.id not in (previous.shown if previous else []):
                    card = staged
                elif previous is not None and previous.card is not None:
                    card, why = previous.card, "detail"
        if (
            previous is not None
            and not fresh
            and NOW_TO_DO.search(text)
            and (card is None or card.kind != "start")
            # (「明日からでもできる対策を3つ」 after security: that topic's own measures)
            and not (
                previous.card is not None
                and previous.card.kind == "topic"
                and _names_its_thing(previous.card, text)
            )
        ):
            # 「来月までにやれること、一つだけ挙げるとしたら？」 after the lab or the DX definition: the first steps
            # of the owner's own stage (its steps only, once its answer was given).
            # (where the stage is not known, the topic's own steps answer it)
            stage_match = estimate_stage(situation)
            staged = self.cards.by_id(f"start-stage{stage_match.stage.level}") if stage_match else None
            if staged is not None:
                given = staged.id in previous.seen or "start-general" in previous.seen
                card, why = staged, "detail" if given else "match"
        if (
            card is not None
            and card.kind == "region"
            and why == "detail"
            and re.search(r"北海道|東北|関東|中部|近畿|関西|中国地方|四国|九州|沖縄", text)
        ):
            why = "match"  # 「東北の選定地域も教えて」: the regions by bureau are in the card's answer, said again
        if card is None and previous is not None and previous.card is not None and AGAIN.search(text):
            card = previous.card  # 「経営者向けにかみくだいて3行くらいでまとめて」: the topic just discussed
        if card is not None and why == "detail" and AGAIN.search(text):
            why = "match"  # 「認定のメリットだけもう一回まとめて」: the topic's answer itself, as asked
        if (
            card is not None
            and (
                card.kind == "start"
                # (「うちの市が応募するとしたら、どんな体制を？」 names no place: not the regions' list again)
                or (card.kind == "region" and why == "detail" and not find_regions(question, self.regions))
            )
            and is_supporter(situation)
            and previous is not None
            and previous.card is not None
            and previous.card.kind != "start"
            and estimate_stage(situation) is None
            and not (
                card.kind == "region"
                and (
                    LOCAL.search(text)
                    or re.search(r"どこ|何回|何地域|いくつ|第.弾|いつ|where|which|when", text)
                )
            )
        ):
            # 「うちの県が手を挙げる場合、どういう体制を作れば？」 from a prefecture's official after the labs: more
            # on that topic, never an owner's first steps (nor a question about their orders and attendance).
            # (After the labs' regions, what a lab is and who forms it: the lab's own card.)
            lab = self.cards.by_id("regional-dx-lab") if previous.card.kind == "region" else None
            card = lab or previous.card
            why = "detail" if card.id in previous.seen else "match"
        if card is not None and card.cued_only and not cued(card, question) and previous is not None:
            # Named by one part of the message only: 「…ハードルが高くない？最初の目標として何を勧めれば」 asks
            # what to recommend to clients, not whether one's own small firm can do it — the topic before.
            card, why = previous.card, "detail"
        if (
            card is not None
            and previous is not None
            and card is previous.card
            and why == "match"
            and card.kind in ("topic", "staff")
            and said_any(card, previous.said)
        ):
            # A different question never gets the same answer again (「回答したら何がわかるの？」 after what the
            # index is): only what speaks to it.
            why = "detail"
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
        hits = self.index.search(self._dense_text(context), k=self.settings.retrieve_k, expansions=expansions)
        return hits, intent, context, expansions

    def _asking(self, message: str) -> tuple[str, np.ndarray] | None:
        """What a message that first describes the business asks (its asking sentences), with its vector
        (cached). (Not in English: 「What is it, …?」 leaves its subject in the sentence before.)"""
        asked = asking_text(message) if not is_mostly_ascii(message) else None
        if asked is None or len(nfkc(message)) - len(asked) < DESCRIPTION_MIN:
            return None  # (little else in the message: a second embedding would change little)
        if POINTING_BACK.match(asked):
            return None  # 「…誰も分かりません。こういう状況、どう抜け出せば？」 asks about the description
        return asked, self.index.embed_query(asked)

    @staticmethod
    def _dense_text(text: str) -> str:
        """The text embedded for a message: a pillar or viewpoint asked about (「視点1って何？」) with the
        clause's own words, which the dense search needs to find it. The question's vector is this one too,
        so a message is embedded once."""
        if PILLAR.search(nfkc(text)) or VIEWPOINT.search(nfkc(text)):
            return " ".join([text, *expansions_for(text)])
        return text

    def _replay(
        self, earlier: list[str], changed: list[bool] | None = None, replies: list[str] | None = None
    ) -> TurnState | None:
        """The state after the earlier user turns (the last three): their cards, stage and agencies. A turn
        that changed the subject (`changed`) starts the state afresh; `replies`: what each turn was answered
        (a turn is resolved knowing the answer before it, as it was when asked)."""
        state: TurnState | None = None
        start = max(0, len(earlier) - 3)
        for i, text in enumerate(earlier[start:], start=start):
            if is_injection(text) or is_off_topic(text):
                continue
            if changed and changed[i]:
                state = None
            qvec = self.index.embed_query(self._dense_text(text))
            turns = earlier[: i + 1]
            situation = " ".join(turns)
            if state is not None and replies and i > 0:
                state = replace(state, said=replies[i - 1])
            turn = self._decide(text, qvec, state, turns, before=earlier[i - 1] if i > 0 else None)
            routed, why = turn.intent, turn.why
            card = turn.card if turn.in_scope else None  # (a refused turn showed no topic)
            stage_match = estimate_stage(text)
            shown = [*(state.shown if state else []), *([card.id] if card else [])]
            # The same ranking the answer used, so 「そこ」 is the agency that answer recommended first.
            agencies = [a.agency.id for a in self._agency_matches(card, text, situation, why, routed)]
            aside = why == "money" and state is not None and state.card is not None
            said = self._stage_match(text, situation, card) is not None or (
                state is not None and state.stage_said
            )
            state = TurnState(
                # 「お金はかかる？」 is an aside: the topic stays what the conversation was about.
                card=(state.card if aside and state else card) or (state.card if state else None),
                stage=stage_match.stage.level if stage_match else (state.stage if state else None),
                agencies=agencies or (state.agencies if state else []),
                shown=shown,
                stage_said=said,
            )
        return state

    def _stage_match(self, question: str, situation: str, card: Card | None) -> StageMatch | None:
        """The stage, from what the owner says they do now: only under answers about where they stand or
        what to do first, or when this very message describes the business and no topic card answers it."""
        if is_supporter(situation) and not OWNER_VOICE.search(nfkc(question)):
            return None  # (support staff describe their clients' cases, not a business of their own)
        starting = card is not None and card.kind == "start"
        described = card is None and not asks_anything(question)
        asks = bool(ASKS_STAGE.search(nfkc(question))) or (
            # 「花屋です。LINEで注文もらって、紙のメモ帳に書いてます。これってもうDXしてることになります？」:
            # whether what the owner does is DX is answered with where that puts the firm.
            card is not None and card.id == "dx-vs-it" and estimate_stage(description(question)) is not None
        )
        if (
            asks
            and card is not None
            and card.kind == "topic"
            and card.id not in GENERAL_CARDS
            and not ASKS_STAGE.search(_WORTH_WORDS.sub("", nfkc(question)))
        ):
            # 「うちのような事務所がDX認定を取る意味ってある？」 asks what the programme brings, not where
            # the firm stands (its 「意味ある」 asks about DX itself only under the general cards).
            asks = False
        if not (starting or described or asks):
            # 「販売管理システムの担当が定年で…」 asks about the system, not where the firm stands: a stage
            # would only be noise (and a guess from a keyword).
            return None
        own = estimate_stage(question)
        if own is not None:
            return own
        # 「…なら段階2くらい？」 asks where the firm stands as described before: read the whole conversation.
        return estimate_stage(situation) if starting or asks else None

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
        begins = _begins(routed, question)
        first_step = begins or (card is not None and card.kind == "start")
        matches = match_agencies(
            situation if card is None or card.kind != "topic" else question, 11, first_step
        )
        preferred = list(dict.fromkeys([*(topic or []), *(card.agencies if card is not None else [])]))
        if why == "bring" and card is not None and card.agencies:
            preferred = card.agencies[:1]
        weight = 2.0 if begins and (card is None or card.kind != "start") else 6.0
        # The owner naming an agency counts unless the card is about something else (「ベンダーに任せて
        # いい？」 is about who leads, not a wish to see a vendor).
        asks_who = _asks_who(question)
        about_other = card is not None and card.kind == "topic" and not asks_who

        # The lab leads only when the owner asks about support nearby (「地元で相談できるところは？」), not
        # because the city they mention happens to be on its list (it is no walk-in desk).
        # Nor when they name the agency they have in mind (「付き合いのある信金に聞いてもいい？」).
        # (「一緒に考えてくれる人、どこにおると？」 asks whom to consult, the labs' answer only where it is about
        # the place: 「山形県でDXの相談先は？」)
        local = bool(
            LOCAL.search(asked_part(question))  # (not 「地元のソフト会社に作ってもらった」)
            or (asks_who and (card is None or card.kind == "region"))
        ) and not (_names_other_agency(match_agencies(question, 11)))

        if named_prefecture(situation) and not find_regions(situation, self.regions):
            # 「熊本にもラボってある？」「名古屋です」: the owner's place has no lab (a listed town elsewhere in the
            # prefecture is not theirs), so the lab is no one for them to consult — the guides' advice for a
            # place without one is the 「主治医」 (地域金融機関・地域ITベンダー・地域のコンサルタント).
            matches = [m for m in matches if m.agency.id != "regional_dx_lab"] or matches
            if card is not None and card.kind == "region":
                preferred = list(SHUJII)

        def rank(m: AgencyMatch) -> float:
            bonus = weight / (1 + preferred.index(m.agency.id)) if m.agency.id in preferred else 0.0
            named = -3.0 * m.keyword_hits if about_other else 5.0 * m.keyword_hits
            region = (20.0 if local else -REGION_BASE) if m.regions else 0.0
            return m.score + bonus + region + named

        for kind, own in OWN_KIND.items():
            if own.search(nfkc(situation)):  # (not sent to their own kind for their own DX)
                matches = [m for m in matches if m.agency.id != kind] or matches
        if NEUTRAL.search(nfkc(question)):
            # 「中立的にアドバイスしてもらえるところは？」: not those who sell the tools.
            matches = [m for m in matches if m.agency.id not in VENDORS] or matches
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
        if is_supporter(situation) or (
            OWN_KIND["consultant"].search(nfkc(situation)) and (card is None or card.kind != "start")
        ):
            return []  # never send a bank's adviser to a bank (nor, later in the conversation, to another)
        asks_who = _asks_who(question)
        if why == "detail" and not asks_who and card is not None and card.kind not in ("agency", "region"):
            return []
        topic = previous.card.agencies if previous and previous.card and asks_who else []
        matches = self._agency_matches(card, question, situation, why, intent, topic)
        if why == "bring" and card is not None and card.agencies:
            # 「そこへ何を持っていけば？」 is about that one agency.
            matches = [m for m in match_agencies(question, 11) if m.agency.id == card.agencies[0]] or matches
        # 「商工会議所いうても敷居が高うて」: an agency the owner shies away from goes last (and is not named).
        lowered = nfkc(question).lower()
        matches = sorted(matches, key=lambda m: _shunned(lowered, m.agency.names))
        named = (
            bool(matches) and matches[0].keyword_hits > 0 and not _shunned(lowered, matches[0].agency.names)
        )
        if card is not None and card.kind in ("clause", "staff") and intent not in ("agency", "region"):
            return []
        # An explanation (「DGCって関係ある？」) asks for no agency unless it asks where or how to begin.
        begins = _begins(intent, question)
        # 「こういう状況、どう抜け出せばいいでしょうか」 about an old system: who helps with it (the topic's
        # agencies), as an adviser would say.
        to_do = card is not None and bool(card.agencies) and _asks_what_to_do(question)
        if card is not None and not (
            card.kind in ("start", "agency", "region")
            or asks_who
            or named
            or begins
            or to_do
            or intent in ("agency", "region")
        ):
            return []
        if card is None and not (intent in ("start", "region") or asks_who or named):
            return []
        if (
            card is not None
            and card.kind == "topic"
            and not card.agencies
            and not (asks_who or named or begins)
        ):
            return []  # 「DXとペーパーレスの違いは？」: no agency is the answer to it
        if card is not None and card.kind == "topic" and asks_fact(question) and not asks_who:
            return []  # 「後藤組はアプリを何で作った？」: a fact, not a wish to meet a SaaS vendor
        context = " ".join([question, *(c.sentence for c in card.claims())] if card else [question])
        return self.writer.agencies(
            matches[: 1 if why == "bring" else 2],
            book,
            hits,
            context,
            brief=why != "bring",
            english=is_mostly_ascii(question),
            question=question,
            # (not a `when` sentence the answer leaves unsaid)
            avoid=tuple(c.sentence for c in card.answer if c.applies(situation)) if card is not None else (),
            # Under an answer on another topic the agency is a pointer; what to discuss with it belongs to
            # answers about where to start, whom to ask, or that agency.
            items=card is None or card.kind in ("start", "agency", "region") or asks_who or named,
            heard=situation,  # (all the user's turns, this one last)
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
        if DIGITISING.search(text) and (OWNER_VOICE.search(text) or BUSINESS.search(text)):
            return True  # an owner telling how digitising their own work goes (「POSを入れたら反対された」)
        if not is_mostly_ascii(question) and any(
            len(word) > 2 and word not in ("SNS", "URL") and word in self.corpus_text
            for word in re.findall(r"[A-Z][A-Za-z]*[A-Z]", text)
        ):
            return True  # 「CISOの記載はコードのどの柱に？」: a term of the guides' own (CISO, PMO, RFP, KPI)
        best_dense = max((h.dense_similarity or 0.0) for h in hits[:3])
        if is_mostly_ascii(question):
            # English questions share no Japanese words with the guides: rely on domain terms.
            return bool(ENGLISH_DOMAIN.search(question)) and best_dense >= SCOPE_DENSE_ENGLISH
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

    def _carded(self, name: str) -> bool:
        """Does a card's sentence speak of this name (後藤組, 常陽銀行)?"""
        return any(name in c.sentence for card in self.cards.cards for c in card.claims())

    def _related_detail(
        self,
        card: Card,
        question: str,
        qvec: np.ndarray,
        english: bool,
        book: CitationBook,
        hits: list[Hit],
        seen: Collection[str] = (),
        said: str = "",
        heard: str = "",
    ) -> tuple[Card, str]:
        """The first of the card's related topics (in the order the question matches them) whose detail
        answers the question, with that detail; the card itself and no text when none does. Asked what to
        do (「社長の私は具体的に何を？」), a related topic not yet shown that the question points at by itself
        (among the two best) answers with its steps."""
        ranked = self.cards.rank(question, qvec, n=len(self.cards.cards))
        order = {h.card.id: i for i, h in enumerate(ranked)}
        # (A clause answers with its whole text, a start card with where the firm stands: not a detail.)
        tried = [
            c
            for r in card.related
            if (c := self.cards.by_id(r)) is not None and c.kind in ("topic", "staff", "agency")
        ]
        tried.sort(key=lambda c: order.get(c.id, len(order)))
        if (
            tried
            and WHAT_TO_DO.search(nfkc(question))
            and order.get(tried[0].id, 2) < 2
            and tried[0].id not in seen
        ):
            body = self.writer.to_do(tried[0], english, book, hits, lead=True, heard=heard)
            if body:
                return tried[0], body
        # …then the topics the follow-up by itself fits best (「段階的にやる方法ってあるん？」 after the legacy
        # system: the plan 「DXによる課題解決を段階的に取り組む」), the same way.
        fitting = [
            h.card
            for h in ranked[:RELATED_TRIED]
            if h.card is not card and h.card not in tried and h.card.kind in ("topic", "staff", "agency")
        ]
        for related in [*tried[:RELATED_TRIED], *fitting]:
            # Its own sentences only: its passages' sentences would match on any common word. A はい/いいえ
            # it holds for the question (「人がいなくてもDXってできる？」) answers it too.
            body = self.writer.detail(
                related,
                question,
                english,
                book,
                hits,
                passages=False,
                min_overlap=RELATED_MIN_OVERLAP,
                said=said,
            )
            body = self.writer.verdict_first(related, question, english, book, hits, body)
            if body:
                return related, body
        return card, ""

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


def _not_about(card: Card | None, term: str, why: str) -> bool:
    """Is a term the question asks about outside what the card answers? A clause card shows the clause that
    explains its own words (「As is-To beギャップ」); a follow-up on a topic asks about a word of it."""
    if card is None:
        return True
    if card.kind == "clause" or term in card.title:
        return False
    return why == "detail" or not any(term in c.sentence for c in card.claims())


def _names_other_agency(matches: list[AgencyMatch]) -> bool:
    """Does the message name (or use the words of) an agency type other than the labs?"""
    return any(m.keyword_hits > 0 and m.agency.id != "regional_dx_lab" for m in matches)


def _names_its_thing(card: Card, text: str) -> bool:
    """Does the follow-up name a thing the card's answer or steps speak of (「対策」 of security's
    「サイバーセキュリティ対策」), beyond words every question uses?"""
    said = "".join(c.sentence for c in card.claims())
    return any(len(w) > 1 and w in said for w in set(content_words(text)) - _NOW_WORDS)


# Words of a request for something to do now (「もう少し具体的に、明日からでもできる…」), no topic's.
_NOW_WORDS = frozenset(
    [
        "もう",
        "少し",
        "具体",
        "明日",
        "今日",
        "来月",
        "今月",
        "来週",
        "今週",
        "すぐ",
        "挙げる",
        "もらえる",
        "やれる",
        "できる",
        "一つ",
        "ひとつ",
        "じゃあ",
        "当面",
        "手始め",
    ]
)


def _asks_what_to_do(question: str) -> bool:
    """Does what the message asks ask what to do about it (「どう抜け出せばいい？」「何をすれば？」)?"""
    return bool(WHAT_TO_DO.search(asked_part(question)) or _WAY_OUT.search(nfkc(question)))


_WAY_OUT = re.compile(
    r"どう(抜け出|乗り越え|解決|対処|対応)(せば|すれば|したら|えれば)|べきか"
)  # (「刷新すべきか…悩んで」)


def _asks_who(question: str) -> bool:
    """Does what the message asks (not its description: 「改修を頼むと毎回高額な見積もり」) ask whom to consult?"""
    return bool(ASKS_WHO.search(asked_part(question)))


_VERDICTS = ("はい。", "いいえ。")


_CHOICE = re.compile(r"どっち|どちら|どれ(が|に|を)|which|\bor\b", re.IGNORECASE)


# What an owner says of an agency they would rather not go to (「敷居が高うて」「行きにくい」).
# (…or asks for someone else: 「ベンダーとは別に、うちの側に立ってくれる人は？」)
_SHY = (
    r"(敷居|ハードル)が?(高|たか)|行きにく|行きづら|入りにく|気が引け|苦手|怖(い|くて)|こわ(い|くて)"
    r"|とは別に|以外(に|の|で)|じゃなくて|(?<!だけ)(?<!のみ)(では|で)なく"  # (not 「商工会だけでなく銀行にも」)
)


def _shunned(lowered: str, names: list[str]) -> bool:
    """Does the text name the agency and then shy away from it (「商工会議所いうても敷居が高うて」)?"""
    return any(re.search(re.escape(n) + rf"[^。？?]{{0,12}}({_SHY})", lowered) for n in names)


def sentences_of(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[。！？!?])", text) if s.strip()]


def set_aside(text: str) -> tuple[str | None, str]:
    """The part of a message that the off-topic rules leave (「…どっちがいい？」 set aside), when something in it
    still asks (None when nothing, or everything, is left), and the sentences that ask only about what the
    guides never cover (said to be set aside)."""
    kept, asked_aside = _off_topic_split(text)
    aside = "".join(asked_aside)
    if not kept or kept == sentences_of(text):
        return None, aside
    if (
        not any(asks_anything(s) for s in kept)
        and (asked_aside or len("".join(kept)) < len(text) / 2)
        # (「勤怠を紙のタイムカードからアプリに変えたいんだけど、ついでに聞きたい。打刻を15分単位で切り捨てて
        # …法律的にOK？」: the wish to digitise is answered, the labour-law question set aside)
        and not any(_WISH.search(s) for s in kept)
    ):
        # What is asked is off-topic and the rest only describes; or, with nothing asked at all, the message
        # is mostly off-topic talk (「確定申告が面倒で、インボイスも…。うちは八百屋です。」).
        return None, aside
    return "".join(kept), aside


def _off_topic_split(text: str) -> tuple[list[str], list[str]]:
    """A message's sentences the guides can speak to, and those that ask only about an off-topic matter.

    An off-topic word in one clause of a sentence takes only that clause: 「2024年問題で残業もうるさいし、なんか
    せないかんとは思うけど、見積もりは数百万…」 tells the business's situation, and 「インボイス対応で会計ソフトを
    入れたんですが、これってDXをやったことになりますか？」 still asks whether that is DX. A match across clauses
    (「…ExcelとLINE公式」) takes the whole sentence."""
    kept: list[str] = []
    aside: list[str] = []
    for sentence in sentences_of(text):
        if not is_off_topic(sentence):
            kept.append(sentence)
            continue
        clauses = re.split(r"(?<=[、,])", sentence)
        off = [is_off_topic(c) for c in clauses]
        rest = "".join(c for c, o in zip(clauses, off, strict=True) if not o)
        asks = asks_anything(sentence) or bool(_POLITE_ASK.search(sentence))
        if (
            rest.strip("、, 。")
            and rest != sentence
            # (an asking rest must name DX itself: 「これってDXをやったことになりますか？」, not 「車の経費って
            # どこまで落とせる？」 after 「確定申告、」, which still asks about the tax return)
            and (
                not asks
                or (
                    asks_anything(rest) and _NAMES_DX.search(rest) and not _spans_kept(sentence, clauses, off)
                )
            )
        ):
            kept.append(rest)
        elif asks:
            aside.append(sentence)
    return kept, aside


# 「…月額いくらくらいかかるのか教えてほしいです。」 asks (for the off-topic split; a description of the business
# that ends so is still answered as one: 「…整理の仕方を教えてほしいです。」)
_POLITE_ASK = re.compile(r"教えて(ほしい|欲しい|もらいたい|いただきたい)(です|んです)?[。.]?$")
_WISH = re.compile(r"(変え|替え|入れ|導入し|デジタル化し|電子化し)(たい|たく)")
_NAMES_DX = re.compile(r"DX|ＤＸ|デジタル化|デジタル|IT化|digital", re.IGNORECASE)


def _spans_kept(sentence: str, clauses: list[str], off: list[bool]) -> bool:
    """Does an off-topic match run into a clause that is not itself off-topic (`off`) (「…会計ソフトで、おすすめの
    製品はどれですか？」: the product choice is what the kept clause asks)?"""
    kept: list[tuple[int, int]] = []
    at = 0
    for clause, off_topic in zip(clauses, off, strict=True):
        if not off_topic:
            kept.append((at, at + len(clause)))
        at += len(clause)
    return any(
        start < m.end() and m.start() < end for m in OFF_TOPIC.finditer(sentence) for start, end in kept
    )


def _begins(routed: Intent, question: str) -> bool:
    """A first consultation: the router says 「start」 for any owner speaking of the firm (「うちは…」), so the
    question must also ask where or how to begin (「どう始めれば」「まず何を」「何とかなる？」)."""
    return routed == "start" and bool(BEGINNING.search(nfkc(question)))


_ENGLISH_NOTE = {
    "en": "The guides are in Japanese and do not say whether any support agency can help in English.",
    "ja": "支援機関が英語で対応できるかどうかは、資料には書かれていません。",
}


def _unknown_note(names: list[str], english: bool) -> str:
    """The guides never mention these programmes: said plainly, before what they do offer."""
    shown = "・".join(f"「{n}」" for n in names)
    if english:
        return (
            f"The guides dxnavi reads never mention {shown}. These are the support measures they do describe:"
        )
    return f"{shown}は、DXナビが参照している資料には出てきません。資料にあるDX関連の支援策は次のとおりです。"
