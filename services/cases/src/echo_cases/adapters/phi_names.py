# ruff: noqa: RUF001, RUF002
"""Person names in the scripts of the regions served and of their patients.

Latin, Cyrillic, Arabic, Hangul and Devanagari names are found by looking words up in lexicons
of common given names and surnames (`lexicons/*.txt`, one file per script and kind), helped by
structure: a run of name words, a title or label before them (Mr, г-н, السيد, 씨, श्रीमती, 姓名),
a relative before them ("her son", "дочь", "ابنها", "아들", "बेटे"), Russian patronymics and
surname endings, Korean surname + two-syllable given name. Han names are found by a surname
after a cue or before a form of address (王先生, 患者张伟的...).

Looking words up in sets keeps the cost linear in the number of words whatever the size of the
lexicons (a regex alternation of thousands of names would be tried at every position). Names
that are also ordinary words (Вера "faith", أمل "hope", आशा "hope", Grace, May) are in the
`*_common_words.txt` lists: they count only next to another name or after a cue. Eponyms
(Parkinson, болезнь Крона, مرض باركنسون) are not in the lexicons, and a disease word before a
name word turns it away.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache, lru_cache
from pathlib import Path

_LEXICONS = Path(__file__).resolve().parent / "lexicons"

Found = tuple[int, int]


def _word_set(words: str) -> frozenset[str]:
    """The whitespace-separated words of `words`."""
    return frozenset(words.split())


@cache
def lexicon(name: str) -> frozenset[str]:
    """The words of `lexicons/<name>.txt` (blank lines and `#` comments skipped)."""
    words: set[str] = set()
    for line in (_LEXICONS / f"{name}.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        words.update(line.split())
    return frozenset(words)


@cache
def _lower_lexicon(name: str) -> frozenset[str]:
    return frozenset(w.lower() for w in lexicon(name))


def _tokens(pattern: re.Pattern[str], text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group(0)) for m in pattern.finditer(text)]


def _gap(text: str, end: int, start: int, allowed: re.Pattern[str]) -> bool:
    return allowed.fullmatch(text, end, start) is not None


_SPACE = re.compile(r"[ \t\u00a0]+")
_CUE_GAP = re.compile(r"[ \t\u00a0]*[:：,،]?[ \t\u00a0]*")
_TITLE_GAP = re.compile(r"[ \t\u00a0]*[.:：]?[ \t\u00a0]*")

# ----------------------------------------------------------------------------- Cyrillic

_CYR_WORD = re.compile(r"[А-ЯЁа-яё]+(?:-[А-ЯЁа-яё]+)*\.?")
_CYR_CAP = re.compile(r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?")
_CYR_INITIAL = re.compile(r"[А-ЯЁ]\.")
_PATRONYMIC = re.compile(r"(?:ович|евич|ьич|овна|евна|ична|инична)(?:а|у|ем|ом|е|ой|ы|ну|ой)?")
_CYR_SURNAME_LIKE = re.compile(
    r".+(?:(?:ов|ев|ёв|ин|ын)(?:а|у|ым|ой|ых|е|ом|ой)?|(?:ский|цкий|ская|цкая|ского|цкого|ской"
    r"|цкой|скому|цкому)|енко|ук|юк|чук|швили|дзе|ян|янц)"
)
_CYR_GIVEN_ENDINGS = ("", "а", "я", "й", "ь", "ия")
_CYR_SURNAME_ENDINGS = ("", "а", "у", "ым", "ой", "ых", "е", "ом", "ыми", "ая", "ого", "ому", "ую")
_CYR_CUES = _word_set(
    """г-н г-жа господин господина госпожа госпожи госпоже гражданин гражданка пациент пациента
    пациенту пациентом пациентка пациентки пациентке пациентку больной больная больного больную
    доктор доктора д-р врач врача медсестра фельдшер акушерка сын сына дочь дочери муж мужа жена
    жены жене мать матери отец отца брат брата сестра сестры внук внука внучка сосед соседка
    имя фио фамилия зовут консультант коллега"""
)
#: A name word after these is an eponym (болезнь Паркинсона, синдром Кушинга, по Граму).
_CYR_EPONYM_BEFORE = _word_set(
    """болезнь болезни болезнью синдром синдрома синдромом шкала шкале шкалы симптом симптома
    тиреоидит тиреоидита анемия анемии проба пробы реакция реакции метод методу по триада
    опухоль опухоли язва язвы ангина пузырь кисты киста рефлекс рефлекса зоб зоба"""
)


@lru_cache(maxsize=4096)  # bounded: the words come from users
def _cyr_given(word: str) -> bool:
    lower = word.lower()
    given = _lower_lexicon("cyrillic_given")
    for cut in range(0, 4):
        stem = lower[: len(lower) - cut] if cut else lower
        if len(stem) < 3:
            break
        if any(stem + ending in given for ending in _CYR_GIVEN_ENDINGS):
            return True
    return False


@lru_cache(maxsize=4096)  # bounded: the words come from users
def _cyr_surname(word: str) -> bool:
    lower = word.lower()
    surnames = _lower_lexicon("cyrillic_surnames")
    for ending in _CYR_SURNAME_ENDINGS:
        if ending and not lower.endswith(ending):
            continue
        base = lower[: len(lower) - len(ending)] if ending else lower
        if base in surnames or base + "ий" in surnames:
            return True
    return False


def cyrillic_names(text: str) -> Iterator[Found]:
    """Names written in Cyrillic: lexicon words, patronymics, surnames next to them, after cues."""
    tokens = _tokens(_CYR_WORD, text)
    common = lexicon("cyrillic_common_words")
    kinds: list[str] = []
    for _, _, word in tokens:
        bare = word.rstrip(".")
        if not word[0].isupper():  # most words: only a cue matters (cheap test first)
            kinds.append("cue" if bare.lower() in _CYR_CUES else "word")
        elif _CYR_INITIAL.fullmatch(word):
            kinds.append("initial")
        elif bare.lower() in _CYR_CUES:
            kinds.append("cue")
        elif not _CYR_CAP.fullmatch(bare):
            kinds.append("word")
        elif bare in common:
            kinds.append("weak")
        elif (
            (_PATRONYMIC.search(bare.lower()) and len(bare) > 6)
            or _cyr_given(bare)
            or _cyr_surname(bare)
        ):
            kinds.append("strong")
        elif _CYR_SURNAME_LIKE.fullmatch(bare.lower()):
            kinds.append("weak")
        else:
            kinds.append("cap")
    names = {"strong", "weak", "initial"}
    i = 0
    while i < len(tokens):
        before = tokens[i - 1] if i else None
        cued = (
            before is not None
            and kinds[i - 1] == "cue"
            and _gap(text, before[1], tokens[i][0], _CUE_GAP)
        )
        member = names | {"cap"} if cued else names
        if kinds[i] not in member:
            i += 1
            continue
        j = i
        while (
            j + 1 < len(tokens)
            and kinds[j + 1] in member
            and _gap(text, tokens[j][1], tokens[j + 1][0], _SPACE)
            and (not tokens[j][2].endswith(".") or kinds[j] == "initial")
        ):
            j += 1
        run = kinds[i : j + 1]
        eponym = before is not None and before[2].lower() in _CYR_EPONYM_BEFORE
        if (
            run != ["initial"] * len(run)
            and not eponym
            and (
                "strong" in run
                or cued
                or run.count("weak") >= 2
                or ("initial" in run and "weak" in run)
            )
        ):
            end = tokens[j][1]
            while text[end - 1] == "." and kinds[j] != "initial":
                end -= 1
            yield tokens[i][0], end
        i = j + 1


# ----------------------------------------------------------------------------- Arabic

_AR_WORD = re.compile(r"[\u0620-\u064A\u064B-\u065F\u0670-\u06D3\u06D5\u06FA-\u06FF\u0640]+")
_AR_MARKS = re.compile(r"[\u064B-\u065F\u0670\u0640]")
_AR_ALEF = str.maketrans("أإآ", "ااا")
_AR_CLITICS = "وفبلك"
_AR_LINKS = frozenset({"بن", "بنت", "ابن", "ابو", "ام", "عبد", "ابي"})
#: Titles and labels: the next word is a name whatever it is.
_AR_TITLES = frozenset(
    {"السيد", "السيده", "الانسه", "الدكتور", "الدكتوره", "د", "الحاج", "الحاجه", "الشيخ",
     "الاسم", "الاستاذ", "الاستاذه", "السيدة", "الدكتورة", "الحاجة", "الانسة", "الاستاذة"}
)  # fmt: skip
#: Patients and relatives: the next word is a name when it is in a lexicon (even a common word).
_AR_CUES = _word_set(
    """المريض المريضة المريضه ابنها ابنه ابنتها ابنته بنتها بنته زوجها زوجته اخوها اخته
    اخيها اختها والدها والدته والده امها ابوها الممرضة الممرضه الممرض جارها جارتها حفيدها حفيدتها"""
)
#: Words that follow a title without being a name (prepositions, pronouns, particles).
_AR_FUNCTION_WORDS = _word_set("""في من على الى عن مع ان لم لا قد هو هي الذي التي عند بعد قبل""")
_AR_LABEL = re.compile(r"(?:الاسم|اسم\s+(?:المريض|المريضة|المريضه))\s*[:：]")


def _ar_norm(word: str) -> str:
    return _AR_MARKS.sub("", word).translate(_AR_ALEF)


@cache
def _ar_lexicon(name: str) -> frozenset[str]:
    return frozenset(_ar_norm(w) for w in lexicon(name))


@lru_cache(maxsize=4096)  # bounded: the words come from users
def _ar_kind(word: str) -> str:
    given, surnames = _ar_lexicon("arabic_given"), _ar_lexicon("arabic_surnames")
    common = _ar_lexicon("arabic_common_words")
    candidates = [word]
    if word[0] in _AR_CLITICS and len(word) > 4:
        candidates.append(word[1:])
    for w in candidates:
        if w in common:
            return "weak"
        if w in given or w in surnames:
            return "strong"
    if word in _AR_LINKS:
        return "link"
    if word.startswith("ال") and word.endswith("ي") and len(word) > 5:
        return "nisba"
    return "word"


def arabic_names(text: str) -> Iterator[Found]:
    """Names written in Arabic script: lexicon words and their chains, after titles and cues."""
    tokens = _tokens(_AR_WORD, text)
    words = [_ar_norm(w) for _, _, w in tokens]
    kinds = [_ar_kind(w) for w in words]
    labelled = {m.end() for m in _AR_LABEL.finditer(text)}
    i = 0
    while i < len(tokens):
        before = words[i - 1] if i else ""
        adjacent = i > 0 and _gap(text, tokens[i - 1][1], tokens[i][0], _TITLE_GAP)
        # "د." is the abbreviated title; "فيتامين د، المستوى" is vitamin D.
        titled = (
            adjacent
            and before in _AR_TITLES
            and words[i] not in _AR_FUNCTION_WORDS
            # "الدكتور المعالج" (the treating doctor): a name after a title has no article,
            # unless a lexicon knows it (السيد الحسيني)
            and (not words[i].startswith("ال") or kinds[i] in {"strong", "weak"})
            and (before != "د" or text[tokens[i - 1][1] : tokens[i - 1][1] + 1] == ".")
        )
        after_label = any(
            end <= tokens[i][0] and _gap(text, end, tokens[i][0], _CUE_GAP) for end in labelled
        )
        cued = adjacent and before in _AR_CUES
        kind = kinds[i]
        if kind not in {"strong", "weak", "link"} and not (titled or after_label):
            i += 1
            continue
        j = i
        while (
            j + 1 < len(tokens)
            and kinds[j + 1] in {"strong", "weak", "link", "nisba"}
            and _gap(text, tokens[j][1], tokens[j + 1][0], _SPACE)
        ):
            j += 1
        if kinds[j] == "link" and j > i:
            j -= 1
        run = kinds[i : j + 1]
        names = [k for k in run if k in {"strong", "weak", "nisba"}]
        if (
            "strong" in run
            or titled
            or after_label
            or (cued and names)
            or len(names) >= 2
            or (run[0] == "link" and names)
        ):
            yield tokens[i][0], tokens[j][1]
        i = j + 1


# ----------------------------------------------------------------------------- Hangul

_HANGUL_WORD = re.compile(r"[\uac00-\ud7a3]+")
_KO_PARTICLES = (
    "에게서", "으로는", "께서는", "에게", "께서", "이가", "이는", "이를", "이의", "에서", "으로",
    "은", "는", "이", "가", "을", "를", "의", "와", "과", "도", "께", "로", "에", "만",
)  # fmt: skip
_KO_HONORIFICS = ("씨", "님")
#: Words after a surname (spaced) that make it a name: 김 씨, 최 선생님.
_KO_AFTER = frozenset(
    {"씨", "님", "선생님", "선생", "교수님", "원장님", "여사", "여사님", "할머니", "할아버지",
     "어르신", "군", "양", "간호사", "환자분", "씨가", "씨는", "씨의", "님이", "님은", "님께서"}
)  # fmt: skip
#: Words before a name: labels, the patient, relatives.
_KO_BEFORE = frozenset(
    {"이름", "성명", "환자명", "보호자명", "환자", "보호자", "아들", "딸", "남편", "아내", "부인",
     "어머니", "아버지", "며느리", "사위", "손자", "손녀", "형", "누나", "언니", "오빠", "동생",
     "간호사", "담당", "보호자인", "의사", "선생님", "주치의"}
)  # fmt: skip
#: Syllables that are a surname but mostly a word on their own (this, one, former...).
_KO_AMBIGUOUS_SURNAMES = frozenset("이한전제모지주소나우구도연기인금옥육선")
#: Titles that follow a surname syllable inside one word (부원장, 사모).
_KO_TITLE_PARTS = frozenset(
    {"원장", "선생", "교수", "과장", "부장", "실장", "팀장", "사장", "회장", "간호", "의사", "박사",
     "주임", "대리", "반장", "위원", "소장", "국장", "차장", "이사", "기사", "모님"}
)  # fmt: skip


def _ko_cores(word: str) -> list[tuple[str, bool]]:
    """`word` without a particle and an honorific: (core, whether 씨/님 was attached)."""
    out = [(word, False)]
    for particle in _KO_PARTICLES:
        if word.endswith(particle) and len(word) > len(particle):
            out.append((word[: -len(particle)], False))
            break
    for core, _ in list(out):
        for honorific in _KO_HONORIFICS:
            if core.endswith(honorific) and len(core) > 1:
                out.append((core[: -len(honorific)], True))
    return out


def _ko_split(core: str) -> tuple[str, str] | None:
    surnames = lexicon("hangul_surnames")
    if len(core) in (3, 4) and core[:2] in surnames:
        return core[:2], core[2:]
    if len(core) in (1, 2, 3) and core[0] in surnames:
        return core[0], core[1:]
    return None


def hangul_names(text: str) -> Iterator[Found]:
    """Korean names: surname + a two-syllable given name, or a surname next to 씨/님/a cue."""
    tokens = _tokens(_HANGUL_WORD, text)
    given, surnames = lexicon("hangul_given"), lexicon("hangul_surnames")
    for i, (start, _, word) in enumerate(tokens):
        if word[0] not in surnames and word[:2] not in surnames:
            continue  # most words: no surname to start a name (cheap test first)
        # "환자 박서연은" (no particle on the cue); "환자는 지난주" is a sentence going on.
        before_cue = (
            i > 0
            and _gap(text, tokens[i - 1][1], start, _CUE_GAP)
            and tokens[i - 1][2] in _KO_BEFORE
        )
        after_cue = (
            i + 1 < len(tokens)
            and _gap(text, tokens[i][1], tokens[i + 1][0], _SPACE)
            and any(c in _KO_AFTER for c, _ in _ko_cores(tokens[i + 1][2]))
        )
        for core, honorific in _ko_cores(word):
            split = _ko_split(core)
            if split is None:
                continue
            surname, rest = split
            if rest in _KO_TITLE_PARTS:
                continue
            full = len(rest) == 2
            if (
                (full and rest in given)
                or (full and (honorific or after_cue or before_cue))
                or (not rest and (after_cue or honorific) and surname not in _KO_AMBIGUOUS_SURNAMES)
            ):
                yield start, start + len(core)
                break


# ----------------------------------------------------------------------------- Devanagari

_DEV_WORD = re.compile(r"[\u0900-\u0963\u0971-\u097F]+")
_DEV_TITLES = frozenset({"श्री", "श्रीमती", "सुश्री", "डॉ", "डा", "डॉक्टर", "डाक्टर", "स्व"})
_DEV_CUES = _word_set(
    """रोगी मरीज मरीज़ बेटे बेटा बेटी पत्नी पति माँ मां पिता भाई बहन बहू दामाद पोता पोती नाती नातिन
    पड़ोसी पडोसी ससुर सास"""
)
#: Words that follow a title without being a name ("डॉक्टर की सलाह": the doctor's advice).
_DEV_FUNCTION_WORDS = _word_set(
    """की का के को ने से में पर है हैं था थी थे और या द्वारा ही भी तो जी साहब सलाह"""
)
_DEV_LABEL = re.compile(
    r"(?:(?<![\u0900-\u097F])(?:रोगी|मरीज़?)\s+(?:का|की)\s+नाम|^नाम|(?<=[।.:;,\n]\s)नाम|(?<=[।.:;,\n])नाम)"
    r"\s*[:：]?\s*(?:है\s*)?"
)


def _dev_norm(word: str) -> str:
    return word.replace("\u093c", "")


@cache
def _dev_lexicon(name: str) -> frozenset[str]:
    return frozenset(_dev_norm(w) for w in lexicon(name))


def devanagari_names(text: str) -> Iterator[Found]:
    """Names written in Devanagari: lexicon words and runs of them, after titles, labels, cues."""
    tokens = _tokens(_DEV_WORD, text)
    given, surnames = _dev_lexicon("devanagari_given"), _dev_lexicon("devanagari_surnames")
    common = _dev_lexicon("devanagari_common_words")
    words = [_dev_norm(w) for _, _, w in tokens]
    kinds = [
        "weak" if w in common else "strong" if (w in given or w in surnames) else "word"
        for w in words
    ]
    labels = [m.end() for m in _DEV_LABEL.finditer(text)]
    gap = re.compile(r"[ \t\u00a0]*\.?[ \t\u00a0]*")
    i = 0
    while i < len(tokens):
        start = tokens[i][0]
        titled = (
            i > 0
            and words[i - 1] in _DEV_TITLES
            and words[i] not in _DEV_FUNCTION_WORDS
            and _gap(text, tokens[i - 1][1], start, gap)
        )
        cued = i > 0 and words[i - 1] in _DEV_CUES and _gap(text, tokens[i - 1][1], start, _SPACE)
        labelled = any(end == start or _gap(text, end, start, _CUE_GAP) for end in labels)
        if kinds[i] == "word" and not (titled or labelled):
            i += 1
            continue
        j = i
        while (
            j + 1 < len(tokens)
            and kinds[j + 1] != "word"
            and _gap(text, tokens[j][1], tokens[j + 1][0], _SPACE)
        ):
            j += 1
        run = kinds[i : j + 1]
        if "strong" in run or titled or labelled or len(run) >= 2 or (cued and run):
            yield start, tokens[j][1]
        i = j + 1


# ----------------------------------------------------------------------------- Latin

_LATIN_CAP = re.compile(r"(?<![\w'’-])[A-Z][a-zà-öø-ÿ'’]+(?:-[A-Za-z][a-zà-öø-ÿ'’]+)?")
_LATIN_STOP = _word_set(
    """The A An And Or Of In On At To For With By From Hospital Clinic Centre Center Health Medical
    University College Street Road Avenue Drive Lane County District Region Hub Spoke Team Unit Ward
    Service Services Department Program Programme Project Network Foundation Institute Trust Group
    Disease Syndrome Sign Score Scale Criteria Test Index Classification Stage Type Grade Protocol
    General Royal Memorial Regional Community Monday Tuesday Wednesday Thursday Friday Saturday
    Sunday January February March April May June July August September October November December
    Hospitalist Nurse Doctor Dr Mr Mrs Ms"""
)
_LATIN_EPONYM_NEXT = re.compile(
    r"['’]s\b|\s+(?i:disease|syndrome|sign|score|scale|criteria|test|index|classification"
    r"|palsy|phenomenon|encephalopathy|thyroiditis|arteritis|triad|lymphoma|ulcer|fracture)\b"
)
_LATIN_VERBS = _word_set(
    """went was is has had says said reports reported presented called came comes lives lived takes
    took works worked feels felt asked told wants needs denies denied smokes drinks missed moved
    arrived attends attended refused refuses returned"""
)
_KOREAN_ROMAN_SURNAMES = _word_set(
    """Kim Lee Park Choi Jung Jeong Kang Cho Jo Yoon Yun Jang Lim Im Han Oh Seo Shin Kwon Hwang
    Ahn Song Yoo Ryu Hong Jeon Ko Moon Yang Son Bae Baek Heo Nam Noh Ha Kwak Sung Cha Joo Woo Min"""
)


def latin_names(text: str) -> Iterator[Found]:
    """Latin-script names from the lexicon: Given Surname, Surname Given-name, Given + verb."""
    given, common = lexicon("latin_given"), lexicon("latin_common_words")
    if given.isdisjoint(_LATIN_CAP.findall(text)):
        return  # no given name at all (most clinical text): no token list to build
    tokens = _tokens(_LATIN_CAP, text)
    for i, (start, end, word) in enumerate(tokens):
        if word not in given or word in common:
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        adjacent = nxt is not None and _gap(text, end, nxt[0], _SPACE)
        if (
            nxt is not None
            and adjacent
            and nxt[2] not in _LATIN_STOP
            and not _LATIN_EPONYM_NEXT.match(text, nxt[1])
        ):
            yield start, nxt[1]
            continue
        prev = tokens[i - 1] if i else None
        if (
            "-" in word
            and prev is not None
            and prev[2] in _KOREAN_ROMAN_SURNAMES
            and _gap(text, prev[1], start, _SPACE)
        ):
            yield prev[0], end
            continue
        following = re.match(r"\s+([a-z]+)", text[end : end + 16])
        if following and following.group(1) in _LATIN_VERBS:
            yield start, end


# ----------------------------------------------------------------------------- Han

_HAN_SURNAME_CHARS = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
    "万钱严覃武戴莫孔向汤欧"
)
_HAN_CUE_NAME = re.compile(
    r"(?:患者|病人|病患|女儿|儿子|丈夫|妻子|老伴|母亲|父亲|家属|孙子|孙女|邻居|主治医生|主治医师|医生"
    r"|护士|大夫|姓名|名字|联系人)[:：]?\s*"
    rf"([{_HAN_SURNAME_CHARS}](?:[\u4e00-\u9fff]{{1,2}}?"
    r"(?=[，,。；;：:\s、（(）)]|的|是|今|在|因|说|建|负|每|和|与|也|已|曾|被|从|自|近|有|来|于|$)"
    r"|[\u4e00-\u9fff]{2}))"
)
_HAN_ADDRESSED = re.compile(
    rf"[{_HAN_SURNAME_CHARS}][\u4e00-\u9fff]{{0,2}}?"
    r"(?:大爷|大妈|大娘|奶奶|爷爷|大叔|大婶|大姐|大哥|主任|教授|伯伯|婆婆|老人家|同志)"
)
#: Medical words that start with a surname character (高血压, 白细胞...).
_HAN_NOT_NAMES = re.compile(
    r"高血|高热|高烧|高危|白细|白蛋|白天|黄疸|黄痰|马上|于是|方面|方案|石膏|曾经|曾有|许多|任何"
    r"|程度|范围|严重|毛发|周围|叶酸|夏季|向来|陆续|余下|何时|龙胆|金黄|钱数|史上|江湖"
    r"|于[去今前近上本明昨当此该是\d]|曾于|严格|周身|高龄|付费|向[医家护患]|金属|方可|万分"
)


def han_names(text: str) -> Iterator[Found]:
    """Han names after a cue (患者张伟的, 医生李明华建议) or before a form of address (赵大爷)."""
    for m in _HAN_CUE_NAME.finditer(text):
        if not _HAN_NOT_NAMES.match(text, m.start(1)):
            yield m.start(1), m.end(1)
    for m in _HAN_ADDRESSED.finditer(text):
        if not _HAN_NOT_NAMES.match(text, m.start()):
            yield m.start(), m.end()


# ----------------------------------------------------------------------------- all scripts

_CYRILLIC = re.compile(r"[А-ЯЁа-яё]")
_ARABIC = re.compile(r"[\u0620-\u064A]")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_DEVANAGARI = re.compile(r"[\u0900-\u097F]")
_HAN = re.compile(r"[\u4e00-\u9fff]")


_ANY_OTHER_SCRIPT = re.compile(
    r"[\u0400-\u04FF\u0600-\u06FF\u0900-\u097F\uac00-\ud7a3\u4e00-\u9fff]"
)


def names_in_scripts(text: str) -> Iterator[Found]:
    """Every name span the lexicons and cues find; a script's scan runs only when it is present."""
    yield from latin_names(text)
    if not _ANY_OTHER_SCRIPT.search(text):
        return
    for script, finder in (
        (_CYRILLIC, cyrillic_names),
        (_ARABIC, arabic_names),
        (_HANGUL, hangul_names),
        (_DEVANAGARI, devanagari_names),
        (_HAN, han_names),
    ):
        if script.search(text):
            yield from finder(text)
