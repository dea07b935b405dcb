"""What an owner's (or a supporter's) question says, read with patterns and synonyms: where they want to
begin, whether they describe their business, whom they ask about, whether they ask for a figure, a case or a
price, whether they are support staff, whether it is English — and the guide wording for their words."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from bot import catalog
from bot.counsel import PILLAR, VIEWPOINT, names_something
from bot.places import in_japanese
from ground.yamlfile import read_yaml
from ingest.normalize import nfkc, sentences

# A question for a fact (a tool, a name, a number, a date), not for what to do: no 次の一歩 or
# 相談先 under it.
FACT_ASKED = re.compile(
    r"何で(作|でき|やっ)|何を使|何の(ツール|ソフト|システム|アプリ)|どんな(会社|企業|ツール)|(誰|だれ)が|いつ(?!も)|何件|何社|何人|何%|何％|何時間|何年|何位"
    r"|どれ(くらい|ぐらい)(減|増|変わ|伸び|上が|下が)|社名|会社名|名前|どこの(会社|企業)"
)
# 「その「RFP」って何ですか？」「BPOとは？」「What is an RFP?」: the meaning of one term of the guides.
_TERM = r"(?:[「『\x22\x27](?P<quoted>[^」』\x22\x27]{2,20})[」』\x22\x27]|(?P<acronym>(?-i:[A-Z][A-Za-z]{0,6}[A-Z][A-Za-z]{0,6})))"
TERM_ASKED = re.compile(
    _TERM + r"\s*(?:って|とは|というのは|ってのは|は)[、,\s]*"
    r"(?:[^?？。「」]{0,14}?(?=具体的に|つまり|要は|どういう))?"  # 「「全社最適」って、うちの場合だと具体的にどういうこと？」
    r"(?:(?:何|なに|なん)(?:ですか|でしょう|なの|のこと|を(?:指|意味)|\s*[?？]|$)|どういう(?:意味|もの|こと)"
    r"|どんな(?:意味|もの)|要は|つまり)"
    r"|" + _TERM.replace("?P<", "?P<bare_") + r"\s*とは\s*[?？]*\s*$"
    r"|what(?:'s| is| are| does)\s+(?:an?\s+|the\s+)?"
    + _TERM.replace("?P<", "?P<en_")
    # 「BPOって初めて聞きました。どういう意味ですか？」
    + r"|"
    + _TERM.replace("?P<", "?P<heard_")
    + r"\s*(?:って|は)[^?？]{0,16}(?:初めて聞|聞いたことが?な|知らな|分からな|わからな)"
    r"[^?？]{0,12}(?:どういう(?:意味|もの|こと)|(?:何|なに|なん)(?:ですか|のこと|なの))",
    re.IGNORECASE,
)


# 「その樋口製作所って、どんなDXをやっとるの？」: a firm or body asked about by its name.
_ORG_ASKED = re.compile(
    r"(?P<org>[一-龥ァ-ヶー・A-Za-z]{1,12}?(?:製作所|工業|建設|組|商店|銀行|協議会|信用金庫))(?:さん)?(?:って|は|の)[、,\s]*"
    r"[^?？。]{0,12}(?:どんな|何を|なにを|どういう|何して|取組|取り組み)"
)
_NOT_ORG = re.compile(r"(取|仕|番)組$")


def asked_org(question: str) -> str | None:
    """The name of the firm or body the question asks about (「樋口製作所」), if it asks about one."""
    match = _ORG_ASKED.search(nfkc(question))
    if match is None or _NOT_ORG.search(match.group("org")):
        return None
    return re.sub(r"^(その|あの|この)", "", match.group("org"))


def asked_term(question: str) -> str | None:
    """The term whose meaning the question asks for (「RFP」, 「BPO」), if it asks for one."""
    match = TERM_ASKED.search(nfkc(question))
    if match is None:
        return None
    return next((v for v in match.groupdict().values() if v), None)


# A question that a plain はい or いいえ answers (「小さな会社でもできますか？」「一度やれば終わり？」).
YES_NO = re.compile(
    r"^(?!.*(何|なに|(?<![そこあ]ん)なん(で(?!す|しょ)|の)|どう|どこ|どちら|どっち|誰|だれ|いつ|どれ|どの|なぜ|何故|どんな|いくら|どれくらい|どのくらい)(?!でも|も)"
    r"|.*\b(what|how|which|where|who|why|when)\b)"
    r"(.*([?？]|か[。.]?)\s*$|\s*(is|are|can|could|do|does|did|should|must|will|would|may|have|has)\b)",
    re.IGNORECASE | re.DOTALL,
)
WANTS_FIGURE = re.compile(
    r"数字|数値|何%|何％|何パーセント|何割|いくら|何円|利率|金利|何社|何地域|何人|何件|何位|割合|どのくらい|どれくらい|上限|最大|率|いつ|何年|how much|how many|rate|percent|when"
)


ENGLISH_DOMAIN = re.compile(
    r"\b(dx|digital|certif\w*|governance|it|sme|smes|support|bank|loan|selection|pillar|coordinator|subsid\w*"
    r"|guidance|transformation|index|stage|system|software|consult\w*|advis\w*|vendor|grant|training|rate"
    r"|interest|guarantee|lab|labs|region\w*|cyber\w*|security)\b",
    re.IGNORECASE,
)


def is_mostly_ascii(text: str) -> bool:
    letters = [ch for ch in text if not ch.isspace()]
    return bool(letters) and sum(ch.isascii() for ch in letters) / len(letters) > 0.6


ASKS_SUPPORT = re.compile(
    r"ラボ|拠点|支援|相談|窓口|どこ(?!に(書|載|記載|入|はい|当て|あて|該当))|頼|\blabs?\b|support|\bhelp\b|contact|consult|\bask\b|where",
    re.IGNORECASE,
)
# Asking where or how to begin (the general start card answers it when nothing fits better).
STARTING = re.compile(
    r"何[かが]ら|なに[かが]ら|着手|始め|はじめ|第一歩|最初|取り掛か|取りかか|手[をぇえ]?(つけ|付け)|where to start|get started"
    r"|(where|how) (should|do|can) (i|we) (start|begin)|\bwhere\b[^.?!]{0,30}\b(start|begin)\b",
    re.IGNORECASE,
)
# 「クリスマスは毎年パンクします。どうにかなりませんか？」「DXで何か変わりますか？」: whether DX helps with what the
# owner describes — where to start, for a firm described.
HELP_ASKED = re.compile(
    r"(どうにか|どうにも|なんとか|何とか)(なら|なる|なり|でき)|(DX|ＤＸ|デジタル)で[^。？?]{0,8}(何か|なにか)?(変わ|良くな|よくな|楽にな|解決|改善)"
)
# An owner speaking about their own business (not a supporter asking how to support).
OWNER_VOICE = re.compile(
    r"うち|弊社|当社|わが社|我が社|うちの店|従業員|社員|パート|職人|\b(we|our|us)\b"
    # 「久留米で小さか酒蔵ばやっとります。家族含めて6人。」: the business and its headcount
    r"|(を|ば)(やって|やっと|営んで|経営して)|(家族|社員|従業員)?(含めて|込みで)?\d+\s*人(くらい|ほど|程度|です)?[。、]"
    r"|(事業所|店|会社|工場|事務所|医院|クリニック|教室|旅館|農園)(やって|やっと|営んで|経営して)",  # 「…の事業所やってます」
    re.IGNORECASE,
)
# Digital tools and work an owner may describe, and the business they describe it in.
DIGITISING = re.compile(
    r"POS|レジ|システム|タブレット|アプリ|クラウド|パソコン|ソフト|デジタル|IT|DX|ペーパーレス|電子化|ネット(予約|販売)",
    re.IGNORECASE,
)
BUSINESS = re.compile(
    r"(店|会社|工場|事務所|事業所|旅館|医院|農園|法人)(を|で|は|です|をして|を経営|をやって)"
)
ASKS_WHO = re.compile(
    r"相談|どこに(?!(書|載|記載|入|はい|当て|あて|該当))|どこへ|誰に|だれに|頼め|頼む|頼ん|手伝っ|手伝い|助けてくれる(ところ|人)|支援してくれる"
    # (not 「Where does Japan rank in digital competitiveness?」: where a thing stands is no place to go)
    r"|\bwho\b|\bwhere\b(?!\s+(does|did|is|was|are|were)\s+(japan|it|this|that|the|our|my|we)\b)",
    re.IGNORECASE,
)
# Asking whether DX concerns the business at all (「うちくらいの規模でも関係ある？」「こういうのもDXの話になるの？」).
RELEVANCE = re.compile(
    r"関係の?(ある|あり|ない|する)|(若い|新しい|ベンチャー|IT)(会社|企業|人)の話|意味(って|は|が)?(ある|あり)|(DX|デジタル化)の話になる|DXで(何とか|なんとか|解決|変わる)"
    r"|(取り組む|やる|する)(意味|必要|価値)|必要(ある|あり|なの)"
    r"|(DX|ＤＸ|デジタル化)(を)?(した|やった|始めた|進めた)(ほう|方)が(いい|ええ|良い|よか)"  # 「これDXしたほうがいい？」
    # 「結局大きい会社の話でないの？うちらがやって何か得あるのかい？」
    r"|(大きい|大きな)(会社|企業)の話|大企業の話|(何か|なんか)得(が|は)?(ある|あり)"
    r"|(DX|デジタル)[^。？?]{0,10}当てはま"  # 「障害福祉みたいな業種でもDXの話って当てはまる？」
    r"|説得(できる|する|の)?(材料|根拠|データ|数字)"  # 「親世代を説得できる材料ってありますか？」
    r"|(手引き|ガイド|資料|DX)[^。？?]{0,8}(参考になる|当てはまる)"  # 「医療機関でも、…手引きは参考になる？」
    r"|(小さ(い|な)|小規模(な|の)?)(会社|店|工場|事業所|事務所|企業)(でも|にも)(DX|デジタル)"
    r"|does (dx|it) (matter|apply)|is (dx|it) (relevant|worth)",
    re.IGNORECASE,
)
# A question about supporting SMEs (the staff cards' subject), not about the asker's own business.
ABOUT_SUPPORT = re.compile(r"支援|伴走|主治医|PMO|連携|事例")
# Asking what a named agency does or whether to consult it.
ROLE = re.compile(
    r"役割|メリット|何をしてくれ|何をしてもら|どんな支援|何が頼め|頼める|協力(して)?(もら|いただ|くれ)|相談しても|相談して(も)?いい|どう[？?]|はどう"
    r"|相談(する|した)と[^。？?]{0,6}(どんな感じ|どう進|どういう流れ|どんな流れ)"  # 「銀行に相談するとどんな感じで進む？」
    r"|(これ|それ|って)[、,]?\s*(何|なん)(ですか|なの|なん|[？?])"  # 「『地域DX推進ラボ』の案内が来た。これ、何ですか？」
    r"|(なんで|なぜ|どうして)[^。？?]{0,6}が(DX|ＤＸ)"  # 「なんで銀行がDXの話？」: what that agency is there for
    r"|選定基準|構成員|選定(の|される)?(条件|要件)"  # 「ラボの選定基準と構成員の条件」: what a lab is
)
# Support of one kind (training, money), which a topic answers wherever the firm is: not the local labs.
KIND_OF_SUPPORT = re.compile(r"人を育て|人材(の)?育成|育成|研修|訓練|融資|借り|補助|助成|資金|お金|金利|保証")
ASKS_CASE = re.compile(
    r"事例|例え(?!ば)|例は|例って|実例|後藤組|常陽|長野|どんな会社|どんな企業|会社の例|企業の例|その会社|その企業|同社|example|case"
)
# Asking for a price or an amount the guides may not give.
HOW_MUCH = re.compile(
    r"いくら|なんぼ|何ぼ|相談料|手数料|利用料|どれくらいかか|どのくらいかか|費用|値段|価格|料金|コスト|お金(は|が|って)?(かか|いる|要る)|タダ|有料|無料"
    r"|how much|what.{0,20}cost",
    re.IGNORECASE,
)
# Asking where or how to begin, in any words (STARTING, plus an order of work or a first thing to do).
BEGINNING = re.compile(
    STARTING.pattern + r"|順番|まず何|まずは|何とか|なんとか|どう進め|進め方", re.IGNORECASE
)
# Agencies that sell the tools (not for advice wanted 「中立的に」).
VENDORS = frozenset(["saas_vendor", "regional_it_vendor", "major_it_vendor"])
# Asking where the business stands: its stage, how digital it is, where or how to begin.
# 「具体的に何をしておけばいい？」「どうすればいいの？」: what to do about the topic, i.e. its steps.
WHAT_TO_DO = re.compile(
    r"(何|なに)(を)?(すれば|したら|しておけば|しとけば|しておく|せな|せにゃ|やれば|やったら)|どうすれば|どうしたら"
    # 「取るには何を準備せないかんの？」「申請の前に何を整えておけば？」
    r"|(何|なに)(を)?(準備|用意|整え)(すれば|したら|しておけば|しとけば|しておく|ておけば|とけば|せな|せにゃ|しな|する)"
    r"|(明日|今日|今すぐ|すぐ)(から)?(でも)?(でき|始め|はじめ|やれ|取りかか)|(でき|やれ)ること(は|って|ある)"  # 「じゃあ明日からできることは？」
    r"|(何|なに)(を)?(話せば|話したら|伝えれば|言えば|説明すれば)|どう(話せば|伝えれば|説明すれば|説明したら|言えば)"
    r"|真似(すれば|したら|する|でき)|参考に(すれば|したら|する)"  # 「どのあたりを真似すればいい？」
    # 「お任せせずに済むよう、こちらで押さえておくべきことは？」: what the owner must see to
    r"|(押さえて|おさえて|気をつけて|心得て)(おく|おか)?(べき|とく|ておく)?(こと|点)"
    r"|what should (i|we) do|what can (i|we) do",
    re.IGNORECASE,
)
ASKS_STAGE = re.compile(
    STARTING.pattern
    + r"|段階|(どの辺|どのあたり)(?![をがにから])|どのくらい進|レベル|現在地|デジタル化(でき|して|が進)|遅れ|関係(ある|あり)"
    r"|意味(ある|あり|って)|stage|where (do|does) (we|i|my company) stand"
    r"|(DX|ＤＸ)(は|が)?(でき|済|完了|終わ)(て|で|た|ん)",  # 「これってもうDXできてるってこと？」: where it stands
    re.IGNORECASE,
)
LOCAL = re.compile(
    r"ラボ|地域|地元|近く|近所|県内|市内|区内|町内|村内|身近|このあたり|この辺|nearby|local", re.IGNORECASE
)
PLACE = re.compile(r"[都道府県市区町村]|地域|地元")  # the owner already said where they are


# Support staff describing their own role (a bank's account manager, a 商工会 adviser, a tax office).
SUPPORTER = re.compile(
    r"経営指導員|支援担当|融資(を)?担当|支援機関の(立場|職員|側|担当)|支援する側|支援者として|(支援|担当|指導|相談を受け|アドバイス)(して|を)(い|お)ます|(支援|指導|アドバイス)をして(い|お)(ます|ります)|取引先の(DX|支援|企業)"
    r"|顧問先|支援先|会員さん|会員企業|(銀行|信用金庫|信金|信組|商工会議所|商工会|中央会|事務所)で(DX)?(法人営業|営業|融資|渉外|経営指導|支援|相談)|DX支援の担当|(銀行|信用金庫|信金|信組|商工会議所|商工会|税理士事務所|会計事務所|社労士事務所"
    r"|コンサル会社)(で|に)(勤め|働い|勤務|所属)|(銀行員|職員|税理士|社労士|診断士|ITコーディネータ)(です|をして|として(活動|働|仕事))"
    r"|(銀行|信用金庫|信金|信組|商工会議所|商工会)の[^。、]{0,12}(部|課|室|支店)の(者|職員|担当者?)(です|をして)"
    # 「地方銀行の法人営業でDX支援を立ち上げ中です」
    r"|(銀行|信用金庫|信金|信組|商工会議所|商工会)の(法人営業|営業|融資|渉外|経営指導|支援)(で|を|の担当|担当)"
    r"|we support|our clients"
    # 「ITCやってます」「地銀でコンサル部門にいます」
    r"|(^|[。!?！？]\s*|私は?|自分は?)(ITC|ITコーディネータ|中小企業診断士|診断士|税理士|社労士)(を)?"
    r"(やって(ます|います|おります)|しています|しております)"
    r"|(^|[。!?！？]\s*|私は?)(地銀|銀行|信用金庫|信金|信組|信用組合|商工会議所|商工会|中央会)(で|の)[^。？?]{0,12}"
    r"(部門|部署|部|課|室)(に|で)(います|おります|所属|勤め|勤務)"
    # 「市の商工課でDXの施策を担当している者です」「県の産業振興課の者です」: a local government's staff
    r"|(県|市|町|村|区|都|府|道|自治体|市役所|区役所|県庁|役場)の?[^。、]{0,12}(課|室|局|係)(で|の|に)[^。、]{0,16}"
    r"(担当して|の者です|者です|職員|勤め|勤務)"
    # 「地域のITベンダーで中小企業向けの提案営業をしています」: selling to SMEs from a vendor or a consultancy
    # (not an owner served by one: 「ベンダーに作ってもろたもんで、中身わかっとった担当が辞めて」)
    r"|(ITベンダー|ベンダー|システム会社|SaaS(事業者|企業|会社)?|コンサル(会社|ティング会社)?)(で|に)"
    r"(?![^。？?]{0,20}(作って|作っても|作ら|頼|依頼|任せ|入れ|もろ|もら|言われ))[^。？?]{0,20}"
    r"(営業|提案|支援|担当|勤め|働い|勤務)"
    # 「信用金庫で…相談を担当している者です」「地銀の法人営業です」: staff saying what they do (not 「担当者が…」)
    r"|(銀行|地銀|信用金庫|信金|信組|信用組合|商工会議所|商工会|中央会)(で|の)[^。？?]{0,24}"
    r"(担当して(いる|います|おります)|担当の者|担当者です|法人営業(です|をして|担当)|融資担当(です|をして)|渉外(です|担当))"
)


# A supporter asking about their own firm's DX (「税理士事務所です…うち自体のDXを進めたい」): an owner then.
OWN_DX = re.compile(
    r"(うち|当事務所|弊所|弊社|当社|自社|自分(たち|とこ)?)(自体|自身)"  # (not 「支援する側の事務所自身の…」)
    # 「社労士事務所を開いて8年…まず自分の事務所のデジタル化を進めたい」
    r"|(自分|うち|当|弊)の?(事務所|所内|社内)の(デジタル|DX|IT|業務)(?!.*支援)"  # (「…ゆくゆくは顧問先のDX支援も」)
)


def is_supporter(text: str) -> bool:
    """The message comes from someone who supports SMEs, not from an owner asking for their own firm."""
    text = nfkc(text)
    return bool(SUPPORTER.search(text)) and not OWN_DX.search(text)


@lru_cache(maxsize=1)
def _synonyms() -> Any:
    return read_yaml(catalog.DATA_DIR / "synonyms.yaml")


@lru_cache(maxsize=1)
def synonym_groups() -> list[tuple[list[str], list[str]]]:
    """(words that trigger, words added): a plain list works both ways; {en, ja} goes English → Japanese."""
    raw = _synonyms()
    groups = []
    for entry in raw:
        if isinstance(entry, dict):
            groups.append(([nfkc(w).lower() for w in entry["en"]], [nfkc(w).lower() for w in entry["ja"]]))
        else:
            words = [nfkc(w).lower() for w in entry]
            groups.append((words, words))
    return groups


@lru_cache(maxsize=1)
def _english_groups() -> list[tuple[list[re.Pattern[str]], list[str]]]:
    return [
        (
            [re.compile(rf"\b{re.escape(nfkc(e).lower())}") for e in entry["en"]],
            [nfkc(w).lower() for w in entry["ja"]],
        )
        for entry in _synonyms()
        if isinstance(entry, dict)
    ]


def english_terms(text: str) -> list[str]:
    """The guides' Japanese words for the English words of a question (「nintei」「certification」→ dx認定)."""
    lowered = nfkc(text).lower()
    return [w for words, added in _english_groups() if any(p.search(lowered) for p in words) for w in added]


SHORT_QUESTION = 15
_ASKING = re.compile(
    r"[?？]|か[。.]?$|(教えて|ください|下さい|知りたい|いい|良い)[。.]?$|\b(what|how|which|where|who|why|when)\b"
    # 「どう話を持っていったらええんかね」
    r"|(かね|かな|かいな|やろか|じゃろか|だろうか)[。.]?$|(たら|れば|りゃ)(ええ|いい|良い|よか)"
    r"|(迷って|悩んで)(る|います|いる|おります)?[。.]?$",  # 「入れ替えかクラウドか迷ってる」: a choice to make
    re.IGNORECASE,
)


def asks_anything(text: str) -> bool:
    """Does the message ask something, or only describe (「うちは受注は全部FAXと電話。」)?"""
    return bool(_ASKING.search(nfkc(text).strip()))


def asked_sentence(text: str) -> str | None:
    """The sentence that asks, when a message first describes the business (「金属加工の町工場です。生産管理は
    全部Excel。客観的に測る方法ってありますか？」): its last question, else its last sentence. None for one
    sentence."""
    parts = sentences(text)
    if len(parts) < 2:
        return None
    questions = [i for i, s in enumerate(parts) if s.endswith(("?", "？"))]
    last = questions[-1] if questions else len(parts) - 1
    asked = parts[last]
    if last > 0 and not names_something(asked):
        # 「…「今さら覚えられん」って猛反発されてしもうて。どうしたらええですか。」: a question that names
        # nothing asks about the sentence before.
        return parts[last - 1] + asked
    if len(asked) < SHORT_QUESTION and last - 1 in questions:
        # 「…DXって呼んでいいんですか？ただのデジタル化？」: a short last question leans on the one before.
        asked = parts[last - 1] + asked
    return asked


def asked_part(text: str) -> str:
    """What the message asks, normalised: its asking sentence after a description of the business, else all
    of it (the description's words — 「地元のソフト会社」「いつも不安」 — ask nothing)."""
    return asked_sentence(text) or nfkc(text)


def asks_fact(text: str) -> bool:
    """Does what the message asks (not its description: 「止まったらどうしようといつも不安」) ask for a fact?"""
    return bool(FACT_ASKED.search(asked_part(text)))


def asking_text(text: str) -> str | None:
    """Every sentence that asks (「DX推進指標…役立ちますか？やるとしたら社内の誰を集めれば？」: both), with the
    one `asked_sentence` finds; None for one sentence."""
    asked = asked_sentence(text)
    if asked is None:
        return None
    questions = [s for s in sentences(text) if s.endswith(("?", "？")) and s not in asked]
    return "".join([*questions, asked])


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


# A named support programme (「IT導入補助金」「持続化補助金」): a compound noun right before the word.
_PROGRAMME = re.compile(r"([^\s、。！？!?「」『』()（）]{2,12}?)(補助金|助成金|給付金|交付金|補助事業)")
_COMPOUND_END = re.compile(r"[一-龥ァ-ヴーA-Za-z0-9]$")


# Words that open a sentence (「じゃあIT導入補助金って…」), not part of a programme's name.
_OPENING_WORD = re.compile(r"^(じゃあ|じゃ|では|それなら|なら|あと|ほんなら|ほな|ちなみに|ところで)")


def unknown_programmes(text: str, corpus: str) -> list[str]:
    """Programmes the question names that the guides never mention (「IT導入補助金」), so the answer can say
    so first. A programme counts as mentioned when its distinctive part (up to its last four characters
    before 補助金) is in the guides: 「ものづくり補助金」 is their 「ものづくり・商業・…補助金」."""
    found = []
    for match in _PROGRAMME.finditer(nfkc(text)):
        name, kind = match.group(1), match.group(2)
        if not _COMPOUND_END.search(name):
            continue  # 「国の補助金」「使える助成金」 name no programme
        if name[-4:] not in corpus and name[-3:] + kind not in corpus:
            name = re.sub(r"^.*[のはがをにで]", "", name)
            found.append(_OPENING_WORD.sub("", name) + kind)  # (not 「じゃあIT導入補助金」)
    return list(dict.fromkeys(found))


PREFECTURES = [
    "北海道",
    "青森",
    "岩手",
    "宮城",
    "秋田",
    "山形",
    "福島",
    "茨城",
    "栃木",
    "群馬",
    "埼玉",
    "千葉",
    "東京",
    "神奈川",
    "新潟",
    "富山",
    "石川",
    "福井",
    "山梨",
    "長野",
    "岐阜",
    "静岡",
    "愛知",
    "三重",
    "滋賀",
    "京都",
    "大阪",
    "兵庫",
    "奈良",
    "和歌山",
    "鳥取",
    "島根",
    "岡山",
    "広島",
    "山口",
    "徳島",
    "香川",
    "愛媛",
    "高知",
    "福岡",
    "佐賀",
    "長崎",
    "熊本",
    "大分",
    "宮崎",
    "鹿児島",
    "沖縄",
]


# Listed lab regions that lie in a prefecture not itself listed (「宮城の会社」 → 仙台市).
LISTED_IN = {
    "北海道": ["札幌市", "函館市", "釧路市", "室蘭市", "北見市"],
    "宮城": ["仙台市"],
    "秋田": ["仙北市"],
    "東京": ["大田区"],
    "神奈川": ["湘南地域"],
    "愛知": ["幸田町"],
    "石川": ["加賀市", "白山市", "かほく市"],
    "岡山": ["津山市"],
    "宮崎": ["延岡市"],
    "長崎": ["南島原市"],
    "沖縄": ["恩納村"],
}


# Lab regions that are towns in a prefecture that is itself a lab region (「新潟にもある？」: 新潟県, and
# 長岡市・柏崎市・燕市 in it).
TOWNS_IN = {
    "新潟": ["長岡市", "柏崎市", "燕市"],
    "大阪": ["大阪市", "堺市"],
    "静岡": ["藤枝市"],
    "埼玉": ["入間市"],
    "愛媛": ["新居浜市"],
}


# The lab regions in each METI bureau's area, as the guides list them (「四国ではどこが入っていますか」).
BUREAU_AREAS = {
    "東北": ["山形県", "仙北市", "仙台市", "青森県"],
    "関東": [
        "茨城県",
        "群馬県",
        "埼玉県",
        "静岡県",
        "大田区",
        "長岡市",
        "長野県",
        "柏崎市",
        "燕市",
        "入間市",
        "湘南地域",
        "新潟県",
        "藤枝市",
    ],
    "中部": ["岐阜県", "幸田町", "加賀市", "三重県", "白山市", "かほく市"],
    "近畿": ["大阪市", "堺市", "大阪府"],
    "中国": ["鳥取県", "津山市"],
    "四国": ["愛媛県", "新居浜市"],
    "九州": ["北九州市", "佐賀県", "大分県", "延岡市", "福岡市", "南島原市", "直方市"],
}
_AREA = re.compile(
    r"(東北|関東|中部|近畿|関西|中国|四国|九州)(地方|地域|エリア|管内)?(では|で|の|に|は|って|だと|だったら)"
)


def named_area(text: str) -> str | None:
    """The bureau area a message names (「四国では」「関西だと」→「近畿」)."""
    found = _AREA.search(nfkc(text))
    return None if found is None else {"関西": "近畿"}.get(found.group(1), found.group(1))


def prefecture_suffix(stem: str) -> str:
    """「愛知」→「県」, 「東京」→「都」, 「大阪」→「府」, 「北海道」→ nothing."""
    return {"北海道": "", "東京": "都", "大阪": "府", "京都": "府"}.get(stem, "県")


def named_prefecture(text: str) -> str | None:
    """The prefecture a message names (「熊本の会社です」「in Kumamoto」→「熊本」), for places not on the lab list."""
    text = in_japanese(text)
    return next((p for p in PREFECTURES if p in text), None)


# Where a message asks a second thing: after a question mark or a full stop, or at 「また、」「あと、」「それと」.
_PARTS = re.compile(r"(?<=[?？。])|(?:また|あと|それと|あわせて|併せて|他にも|ほかにも)[、,]")
_ASKS = re.compile(
    r"[?？]$|(教えて|知りたい|ください|下さい|ある|あります|いい|ですか|ますか|でしょうか|の|したい)(です|ます)?[。]?$"
)


def description(text: str) -> str:
    """The sentences that do not ask (「花屋です。LINEで注文もらって、紙のメモ帳に書いてます。」 before 「これって
    もうDXしてることになります？」); empty for a message of one sentence."""
    asked = asking_text(text)
    return "" if asked is None else "".join(s for s in sentences(text) if s not in asked)


def asking_parts(text: str) -> list[str]:
    """The parts of a message that each ask something (「応募できますか？あと、評価の観点は？」→ two), for a
    compound question that two cards answer together. One part for a message that asks one thing."""
    parts = [p.strip(" 、,。") for p in _PARTS.split(nfkc(text)) if p and p.strip(" 、,。")]
    return [p for p in parts if len(p) >= 6 and _ASKS.search(p)]


# 「ありがとう、参考になった」「了解です！」: thanks or an acknowledgement, asking nothing.
_COURTESY = re.compile(
    r"(どうも|本当に|ほんとに)?(ありがとう(ございます|ございました)?|ありがと|サンキュー|助かりました|助かった|助かります"
    r"|参考になりました|参考になった|参考になります|よく?わかりました|よく?分かりました|わかった|分かった|了解(です|しました)?"
    r"|なるほど|承知しました|ok|okay|thanks|thank you|got it|great)(です)?(ね|よ|わ)?",
    re.IGNORECASE,
)


def is_courtesy(text: str) -> bool:
    """Is the message only thanks or an acknowledgement (「ありがとう、参考になった」), with nothing asked?"""
    parts = [p for p in re.split(r"[、。!！,.\s〜ー…?？]+", nfkc(text)) if p]
    return bool(parts) and len(parts) <= 4 and all(_COURTESY.fullmatch(p) for p in parts)
