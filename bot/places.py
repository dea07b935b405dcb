"""Places written in English (「Fukuoka」「Yokohama」), read as the Japanese names the guides list."""

from __future__ import annotations

import re

from ingest.normalize import nfkc

# The 47 prefectures in the order of question.PREFECTURES (the stems the guides and owners write).
_PREFECTURES = (
    "hokkaido:北海道 aomori:青森 iwate:岩手 miyagi:宮城 akita:秋田 yamagata:山形 fukushima:福島 ibaraki:茨城"
    " tochigi:栃木 gunma:群馬 saitama:埼玉 chiba:千葉 tokyo:東京 kanagawa:神奈川 niigata:新潟 toyama:富山"
    " ishikawa:石川 fukui:福井 yamanashi:山梨 nagano:長野 gifu:岐阜 shizuoka:静岡 aichi:愛知 mie:三重"
    " shiga:滋賀 kyoto:京都 osaka:大阪 hyogo:兵庫 nara:奈良 wakayama:和歌山 tottori:鳥取 shimane:島根"
    " okayama:岡山 hiroshima:広島 yamaguchi:山口 tokushima:徳島 kagawa:香川 ehime:愛媛 kochi:高知"
    " fukuoka:福岡 saga:佐賀 nagasaki:長崎 kumamoto:熊本 oita:大分 miyazaki:宮崎 kagoshima:鹿児島"
    " okinawa:沖縄"
)
# The lab regions below prefecture level, and large cities by the prefecture they are in.
_CITIES = (
    "sapporo:札幌市 hakodate:函館市 kushiro:釧路市 muroran:室蘭市 kitami:北見市 senboku:仙北市 sendai:仙台市"
    " ota-ku:大田区 nagaoka:長岡市 kashiwazaki:柏崎市 tsubame:燕市 iruma:入間市 shonan:湘南地域"
    " fujieda:藤枝市 kota-cho:幸田町 kaga:加賀市 hakusan:白山市 kahoku:かほく市 sakai:堺市 tsuyama:津山市"
    " niihama:新居浜市 kitakyushu:北九州市 nobeoka:延岡市 minamishimabara:南島原市 nogata:直方市"
    " yokohama:神奈川 kawasaki:神奈川 nagoya:愛知 kobe:兵庫 shinjuku:東京 shibuya:東京 hamamatsu:静岡"
)
ENGLISH_PLACES = {
    **dict(pair.split(":") for pair in (_PREFECTURES + " " + _CITIES).split()),
    "ota city": "大田区",
    "ota ward": "大田区",
}
_NAMED = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, ENGLISH_PLACES), key=len, reverse=True)) + r")\b", re.IGNORECASE
)


# Names that are also English words: a place only when capitalised (「Saga」, not 「a long saga」).
_ALSO_WORDS = frozenset({"saga", "nara", "mie", "kaga", "kobe", "oita"})


def in_japanese(text: str) -> str:
    """The text with the Japanese names of the places it writes in English added (「Yokohama」 → 神奈川)."""
    text = nfkc(text)
    found = dict.fromkeys(
        ENGLISH_PLACES[name.lower()]
        for m in _NAMED.finditer(text)
        if not ((name := m.group(1)).lower() in _ALSO_WORDS and name[0].islower())
    )
    return " ".join([text, *found]) if found else text
