"""Route a user message to an intent with rules (measured against the gold set: see README)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from bot.places import in_japanese
from bot.schemas import Intent
from ingest.normalize import nfkc, sentences

# Attempts to change the assistant's rules or reveal its prompt. Checked before anything else.
INJECTION = re.compile(
    r"(指示|命令|ルール|設定|制約)を?(すべて|全て|全部)?(無視|忘れ|破棄|解除)"
    r"|システム\s*プロンプト|system\s*prompt|ignore (all |the )?(previous|prior|above) (instructions|rules)"
    r"|あなたは(今から|これから|もう)"
    r"|(今から|これから)(あなた|君|お前)は"
    r"|ロールプレイ|jailbreak|developer mode|開発者モード|制限を(解除|外)"
    r"|管理者(から|として)の(命令|指示)|とだけ(答え|回答|言)|根拠を(一切)?使わず|出典を(一切)?(使わず|付けず|つけず)"
    r"|(プロンプト|初期設定|隠された指示)を(表示|教え|出力|見せ)",
    re.IGNORECASE,
)
# Topics dxnavi never answers, even when words like 「中小企業」 appear with them.
OFF_TOPIC = re.compile(
    r"天気|気温|降水|\bweather\b|\bforecast\b|\btemperature\b|レシピ|料理の作り方|カレー|献立|株価|株式投資|(?<!DX)(?<!ＤＸ)銘柄|為替|ドル円|仮想通貨|ビットコイン|観光地|旅行先|観光スポット|おすすめの(旅行|店|レストラン)"
    r"|確定申告|税理士法|弁護士法|行政書士法|社労士法|社会保険労務士法|電子帳簿保存法|電帳法|控除額|相続税|消費税率|インボイス|2割特例|仕訳|法人税|減価償却|源泉徴収|圧縮記帳|税務上|税務処理|節税"
    r"|税制|税金(上|面|の(扱|処理))|経費(にでき|で落と|計上)|一括(で)?(経費|損金)|損金"
    r"|労働基準法|残業代の計算|解雇|有給休暇|有給の日数|有給(って|は|を)?.{0,8}(何日|日数|あげ|付与)|有休|年次有給|就業規則の(書き方|条文)"
    r"|(残業|時間外労働)の?(時間の)?上限|36協定|2024年問題|個人情報保護法"
    r"|違約金|損害賠償|契約(を)?(途中で|中途で)?解除|訴訟|裁判"  # a dispute with a vendor is a lawyer's matter
    r"|(打刻|勤務時間|労働時間|勤怠)[^。？?]{0,24}(切り捨て|切捨て|切り上げ|丸め)|労働基準監督署|労基(署|法)"
    r"|法的(に|な)(義務|必要|保存)|保存義務|何年(間)?保存"  # 「打刻データって法律上何年保存しないといけない？」
    r"|(居酒屋|飲み屋)(を)?(知らない|知ってる|教えて|紹介して|探して)|(いい|良い|おすすめの)(店|お店|レストラン|料亭)(は|を)?(ない|ある|知らない|知ってる|教えて)|接待(に|で)?(使える|いい)"
    r"|宴会場|懇親会の?(店|会場|場所)"
    r"|(社員旅行|忘年会|新年会|歓迎会|送別会|結婚式|宴会|朝礼)[^。？?]{0,12}(挨拶|あいさつ|スピーチ|乾杯|しおり|余興)"
    r"|python|javascript|sql|エクセル関数|vba|(excel|エクセル|スプレッドシート).{0,30}(式|関数|数式|マクロ)|コードを書|プログラムを書|バグ|コンパイル|正規表現"
    r"|(おすすめ|オススメ|美味しい|おいしい|人気)の?.{0,8}(店|屋|ホテル|宿|旅館)|近くの.{0,8}(店|屋)\b|(ramen|sushi) (shop|place|restaurant)"
    r"|hotel recommendation|where (should|can) i stay"
    r"|restaurant recommendation|恋愛|占い|スポーツ|試合|映画|ゲーム攻略|病気|症状|薬"
    r"|ごはん|ご飯|夕飯|夕食|晩飯|昼飯|朝食|ランチ|おやつ|what (should|to) (i )?(eat|cook)|dinner|lunch"
    # Choosing a product or brand: the guides compare none (「freeeとマネーフォワード、どっちがいい？」).
    # (「勤怠管理のアプリ、どれがおすすめ？」 is a business tool: the guides say how to choose, not which)
    r"|(windows|mac|iphone|android|freee|マネーフォワード|弥生|kintone|サイボウズ|スマレジ|エアレジ|機種)"
    r".{0,30}(どっち|どちら|どれ)(が|を|の方が)?.{0,6}(いい|良い|おすすめ|オススメ|買|選|使)"
    r"|(おすすめ|オススメ|お勧め)の?機種(は|って)?(どれ|何|なに)",
    re.IGNORECASE,
)
REGION_WORDS = re.compile(r"[都道府県市区町村]|地域|地元|県内|市内")
AGENCY = re.compile(
    r"どこに相談|どこへ相談|誰に相談|だれに相談|相談先|相談窓口|窓口|相談|頼んで|頼め|任せ"
    r"|支援機関(って|は|とは)?.{0,12}(どこ|どんな|どれ|誰|だれ)|(どこ|誰|だれ)に(頼|お願い|依頼)"
    r"|頼れ|頼めば|頼ったら|頼って|お願いでき|お願いすれば|協力してもら|支援してくれ|手伝ってくれ|支援を受け|主治医"
    r"|which (agency|organization)|who (can|should) (i|we) (ask|consult)|where (can|should) (i|we) (ask|consult)",
    re.IGNORECASE,
)
STRONG_CLAUSE = re.compile(
    r"柱\s*\d|第\s*\d\s*の柱|\d\s*(つ|番|本)目の柱|視点\s*[①②③1-3]|ガイダンス.{0,4}\d\.\d|pillar\s*\d",
    re.IGNORECASE,
)
CLAUSE = re.compile(
    r"柱\s*\d|第\s*\d\s*の柱|\d\s*(つ|番|本)目の柱|視点\s*[①②③1-3]|柱となる考え方|望ましい方向性|条文|原文|項目|定義"
    r"|5つの柱|五つの柱|3つの視点|三つの視点|ガバナンス・?コード|推進指標の|認定基準|pillar|principle",
    re.IGNORECASE,
)
START = re.compile(
    r"何[かが]ら|なに[かが]ら|何をすれば|なにをすれば|何をしたら|何をすべき|まず何|始め|はじめ|第一歩|最初|どの段階|どこから"
    r"|取り掛か|取りかか|手をつけ|進め方|どう進め|順番|何とかし|何とかな|なんとか"
    r"|うち(の会社|みたい|は|も|で)|弊社|当社|小さい会社|小さな会社|町工場|零細|どの段階|どのレベル"
    r"|\bstart\b|\bbegin\b|first step|get started",
    re.IGNORECASE,
)


class IntentRouter:
    """Rules for what must never be missed (injection, off-topic, named regions), then a vote of the
    nearest example questions (embedding prototypes) together with the rules' own guess.

    Measured on the held-out split of the gold set: rules alone 0.73, this hybrid 0.80 (see README).
    """

    def __init__(self, embed: Callable[[list[str]], np.ndarray], regions: list[str], k: int = 5) -> None:
        if k <= 0:
            raise ValueError("k must be positive")
        from bot.catalog import intent_examples

        examples = intent_examples()
        self.labels: list[Intent] = [intent for intent, questions in examples.items() for _ in questions]
        questions = [q for qs in examples.values() for q in qs]
        self.vectors = embed(questions) if questions else np.zeros((0, 0), dtype=np.float32)
        self.regions = regions
        self.k = k

    def route(self, text: str, query_vector: np.ndarray) -> Intent:
        ruled = route_intent(text, self.regions)
        if ruled in ("out_of_scope", "region") or not self.labels:
            return ruled
        sims = self.vectors @ query_vector
        votes: dict[Intent, float] = {}
        for row in np.argsort(-sims)[: self.k]:
            label = self.labels[row]
            votes[label] = votes.get(label, 0.0) + float(sims[row])
        votes[ruled] = votes.get(ruled, 0.0) + RULE_VOTE * float(sims.max())
        if not REGION_WORDS.search(nfkc(text)):
            votes.pop("region", None)  # a region answer needs a place in the question
        return max(votes, key=lambda intent: votes[intent])


RULE_VOTE = 0.8  # the rules count about as much as one close example


def is_injection(text: str) -> bool:
    return bool(INJECTION.search(nfkc(text)))


# Everyday words that a business's own work uses too (「夕食の献立や食材の発注は板長の頭の中」「薬の在庫は
# 帳面」「問診票に症状を書いてもらう」): in a sentence about how the work is done, they are the business.
_EVERYDAY = re.compile(
    r"献立|夕食|朝食|昼食|ランチ|ご飯|ごはん|料理|レシピ|カレー|薬|病気|症状|映画|スポーツ|試合|ゲーム|dinner|lunch",
    re.IGNORECASE,
)
_WORK = re.compile(
    r"在庫|発注|受注|注文|仕入|管理|記録|台帳|帳簿|帳面|予約|受付|問診|カルテ|伝票|請求|会計|売上|手書き|紙|"
    r"エクセル|excel|fax|ファックス|システム|頭の中|患者|利用者",
    re.IGNORECASE,
)


def is_off_topic(text: str) -> bool:
    """Asks about something the guides never cover (the weather, a recipe, a tax rule), not a business that
    describes its own work in everyday words."""
    for sentence in sentences(text):
        for match in OFF_TOPIC.finditer(sentence):
            everyday = _EVERYDAY.fullmatch(match.group(0))
            if everyday and re.match(r"[局店屋館院舗剤歴品師]", sentence[match.end() :]):
                continue  # 「薬局です」「料理店」: the business itself
            if not (everyday and _WORK.search(sentence)):
                return True
    return False


def route_intent(text: str, regions: list[str]) -> Intent:
    """Pick one intent for the latest user message. Retrieval evidence can still refuse later."""
    text = nfkc(text)
    if is_injection(text) or is_off_topic(text):
        return "out_of_scope"
    if find_regions(text, regions) or (REGION_WORDS.search(text) and re.search(r"ラボ|地域DX", text)):
        return "region"
    if STRONG_CLAUSE.search(text) or (CLAUSE.search(text) and not START.search(text)):
        return "clause"
    if AGENCY.search(text) and not re.search(r"何から|なにから|第一歩|どの段階", text):
        return "agency"
    if START.search(text):
        return "start"
    return "fact"


@lru_cache(maxsize=256)
def region_stem(region: str) -> str:
    """「山形県」→「山形」, 「福岡市」→「福岡」 (keep 「大田区」-like names whole when the stem is one char)."""
    stem = re.sub(r"(県|府|都|道|市|区|町|村|地域)$", "", region)
    return stem if len(stem) >= 2 else region


def find_regions(text: str, regions: list[str]) -> list[str]:
    """Regions from the catalog named in the text (by full name or by stem, e.g. 「山形」, or in English)."""
    text = in_japanese(text)
    found = [r for r in regions if r in text]
    found += [r for r in regions if r not in found and region_stem(r) in text]
    return found
