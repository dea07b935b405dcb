"""Estimate the owner's DX stage (the guides' four stages) from how they describe their business."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.catalog import Stage, stages
from ingest.normalize import nfkc

# The message must describe the user's own business, not just ask about a stage in general.
_SITUATION = re.compile(
    r"うち|弊社|当社|自社|私たち|わが社|我が社|うちの|している|しています|してる|やっている|やってる|使っている|使ってる"
    r"|使っています|管理して|導入して|入れて|入れた|切り替え|でやって|頼って|中心|ばかり|だけ|のみ|しかない|まだ|we |our "
    r"|てる|ている|ています|てます|でます|ました|けど|んです|です。|でいる"
    r"|\d+\s*(人|名)[。、,．.]"  # 「町工場で12人。注文はほぼFAXで…」: the firm and its headcount
    # Western and Kyushu speech: 「頭の中でやっとって」「まとめよるけん」「使うとります」.
    r"|っとる|っとった|しとる|よる[。、けがき]|とります|ております|おります"
    r"|\d+\s*(店舗|台|室|床)|経営[。、]|家族経営"
    # 「予約は電話と紙の台帳」「運行記録は紙」: a task and how it is done today.
    r"|(は|も)(今でも|いまだに|未だに|全部|全て|すべて|ほぼ|ほとんど|まだ)?(紙|電話|fax|手書き|ノート|excel|エクセル|line)"
    r"|\bi (run|own|have|manage)\b|\bmy (company|business|shop|firm|restaurant|store)\b|\btook over\b"
    r"|\bmy\b[^.?!]{0,30}\b(company|business|shop|firm|farm|restaurant|store|factory)\b"
)
_ONLY = re.compile(r"だけ(?!ど|れど)|のみ|しか|まだ|中心|ばかり|全部|すべて|全て|未だ")  # (not 「…んだけど」)
_NEGATED_AFTER = (
    r"(は|が|も)?(ない|無い|ありません|なし|使っていない|入れていない|導入していない)|(では|じゃ)(なく|無く)"
)
# 「新しいサービスを作れへんかなと思ってる」: wondering whether to, a wish (in `_NOT_NOW` and `_PLANNED`).
_WONDERING = r"[^。！？!?、,]{0,8}(かなと|かなぁ|へんかな|れへんか|んかなと)"
# What follows a cue in the same clause when it is a wish, a plan or an absence, not what the owner does
# now: 「システムを入れたい」「クラウドは検討中」「まだ顧客管理システムはない」「クラウドを入れたら…？」.
_NOT_NOW = re.compile(
    r"^[^。！？!?、,]{0,14}?(たい|たく|欲しい|ほしい|検討|予定|つもり|計画|考えて|迷って|悩んで|相談したい"
    r"|ようと|ようか|入れれば|導入すれば|使えば|にしたら|入れたら|導入したら|使ったら|使い始めたら|替えたら|変えたら"
    r"|場合|なら|ない|無い|ません|ず[、。]|ずに|なし|未導入|予定"
    r"|" + _WONDERING + ")"
)


# Something that happened once, not how the business runs: 「営業の電話が来た」「メールをもらった」.
_AN_EVENT = re.compile(
    r"^(が|を|で)?(来た|きた|かかってきた|掛かってきた|あった|もらった|貰った|受けた|届いた)"
    r"(?!もの|分|のを|ら)"  # (「メールで来たものを印刷して」: how the work is done, every time)
)


@dataclass(frozen=True)
class StageMatch:
    stage: Stage
    cues: list[str]


# A cue the owner asks about, not one they do (「データ活用って、居酒屋でもできるんですかね？」).
_ASKED_ABOUT = re.compile(
    r"^(って|とは|というのは|ってのは|ってやつは)[^。！!]{0,40}[?？]|^って(言われ|いわれ|言うても|いうても|言っても)"
)


# Generic words that name a thing, not its use: they count only with a verb of present use after them
# (「クラウドのシステムを使ってます」), never alone (「大きなシステムに投資するのは怖い」).
# A business function (「生産管理は全部Excel」) is no system either until something is said to run it.
_WEAK_CUES = frozenset(
    {
        "システム",
        "クラウド",
        "saas",
        "アプリ",
        "ツール",
        "kintone",
        "生産管理",
        "在庫管理",
        "顧客管理",
        "販売管理",
        "発注管理",
        "通販",  # 「通販やってます」 is a channel, not data used to widen it (「通販で販路を広げている」)
        "ec",
        "ネット販売",
    }
)
_IN_USE = re.compile(
    r"^[^。！？!?]{0,14}?(使って|使い|入れて|入れた|入れてる|導入して|導入済|導入した|管理して|管理してい|運用して"
    r"|使用して|活用して|利用して|動いて|で管理|でやって|にして|で見て|で見る|で把握|で確認"
    r"|に切り替え|に移行し|に移し(た|て)|で見られ|で見え"  # 「受発注をクラウドのシステムに切り替えて」
    r"|で[^。！？!?、]{0,10}(して|しており))"
)


# What before a cue makes it another word: 「…と記憶しています」 (I recall), not 「在庫は社長の記憶」.
_NOT_AFTER = {"記憶": "と"}


def _matches(text: str, cue: str) -> bool:
    # An English word is a whole word; either kind takes the same checks on what follows it
    # (「kintoneを入れた場合」).
    found = re.search(rf"(?<![a-z]){re.escape(cue)}(?![a-z])" if cue.isascii() else re.escape(cue), text)
    if found is None:
        return False
    before = _NOT_AFTER.get(cue)
    if before is not None and text[: found.start()].endswith(before):
        return False  # 「…があったと記憶しています」 remembers; it keeps nothing in the head
    after = text[found.end() :]
    # 「システムはない」 describes the absence of the thing, not its use; 「入れたい」 a wish, not the present.
    if re.match(_NEGATED_AFTER, after):
        return False
    # (asked about as part of a longer word too: 「POSレジって、3店舗分だといくら？」 names the 「pos」 of 「POSレジ」)
    word = re.sub(r"^[ァ-ヶー]+", "", after)
    if (
        _NOT_NOW.match(after)
        or _AN_EVENT.match(after)
        or _ASKED_ABOUT.match(after)
        or _ASKED_ABOUT.match(word)
    ):
        return False
    return cue not in _WEAK_CUES or bool(_IN_USE.match(after))


# What follows a cue when it is what the owner plans or considers (「顧客管理システムに移したい」).
_PLANNED = re.compile(
    r"^[^。！？!?、,]{0,14}?(たい|たく|欲しい|ほしい|検討|予定|つもり|計画|考えて|ようと|ようか|入れれば|導入すれば"
    r"|使えば|にしたら|入れたら|導入したら|使ったら|使い始めたら|替えたら|変えたら|移し|移す|移行"
    r"|" + _WONDERING + ")"
)


def planned_stage(text: str) -> StageMatch | None:
    """The stage of what the owner plans (「紙からクラウドの顧客管理システムに移したい。どの段階？」 → 3):
    the highest stage one of whose cues is followed by a wish or a plan."""
    text = nfkc(text).lower()
    planned = []
    for stage in stages():
        for cue in stage.cues:
            found = re.search(re.escape(cue.lower()), text)
            if found and _PLANNED.match(text[found.end() :]):
                planned.append((stage, cue.lower()))
    if not planned:
        return None
    top = max(stage.level for stage, _ in planned)
    best = next(stage for stage, _ in planned if stage.level == top)
    return StageMatch(best, [cue for stage, cue in planned if stage.level == top])


def estimate_stage(text: str) -> StageMatch | None:
    """The stage whose example cues the description matches; None when no situation is described."""
    text = nfkc(text).lower()
    if not _SITUATION.search(text):
        return None
    hits = {s.level: [c for c in s.cues if _matches(text, c.lower())] for s in stages()}
    matched = [s for s in stages() if hits[s.level]]
    if not matched:
        return None
    by_level = {s.level: s for s in stages()}
    higher = sum(len(hits[s.level]) for s in matched if s.level > 1)
    # 「注文はFAXか電話、勤怠は紙のタイムカード、在庫だけエクセル」: mostly the guides' stage-1 examples.
    if hits[1] and (_ONLY.search(text) or len(matched) == 1 or len(hits[1]) > higher):
        if higher < 2:
            return StageMatch(by_level[1], hits[1])
        # 「日報は紙…ダイヤはExcel、経理だけは会計ソフト」: two digital tools in use are the partial
        # digitisation of stage 2, not stage 1's 「デジタル化が図られておらず」 (nor the systems of stage 3).
        return StageMatch(by_level[2], [c for s in matched if s.level > 1 for c in hits[s.level]])
    best = max(matched, key=lambda s: (s.level if s.level > 1 else 0, len(hits[s.level])))
    return StageMatch(best, hits[best.level])
