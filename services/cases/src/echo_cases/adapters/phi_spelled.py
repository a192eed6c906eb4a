# ruff: noqa: RUF001
"""Identifiers written in words: obfuscated e-mail addresses and numbers spelled out.

E-mails: `name [at] host [dot] com`, `name(at)host.com`, `name dot x at host dot com`,
`name {at} host {dot} ca`, `name AT host DOT net`, `name @ host . com`, the words for "at" and
"dot" in French, Russian, Chinese, Korean and Arabic (arobase/point, собака/точка, 艾特/点,
골뱅이/점, آت/نقطة). Each "at" is a candidate; it is an address only when a host ending in a
known top-level domain (or a well-known mail provider) follows it and a local part precedes it.

Numbers: a run of digit words (English, French, Russian: "five five five, one two three four",
"zéro six, douze, trente-quatre", "восемь девять один"), mixed with digits ("416 five five five
0199"), or of Chinese numerals (一三八零零…), that spells seven digits or more is a phone number,
or the id its label says ("health card one two three..."). Counting words as digits keeps
"two to three drinks" or "one or two episodes" clean: words joined by "to"/"or" never form a run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Found = tuple[int, int]


def _word_set(words: str) -> frozenset[str]:
    """The whitespace-separated words of `words`."""
    return frozenset(words.split())


# ----------------------------------------------------------------------------- e-mails

_AT_WORDS = r"at|arobase|собака|艾特|골뱅이|آت"
_DOT_WORDS = r"dot|point|punto|точка|点|점|نقطة"
#: The "at" itself; the spaces or brackets around it are checked after a hit.
_AT_CORE = re.compile(
    rf"(?=[aAсС艾골آ@＠])(?:(?<![^\W\d_])(?:{_AT_WORDS})(?![^\W\d_])|[@＠])", re.IGNORECASE
)
_AT_LEFT = re.compile(r"(?:\s*[\[\(\{<]\s*|\s+)\Z")
_AT_RIGHT = re.compile(r"\s*[\]\)\}>]\s*|\s+")
_DOT = (
    rf"(?:\s*[\[\(\{{<]\s*(?:{_DOT_WORDS}|\.)\s*[\]\)\}}>]\s*"
    rf"|\s+(?:{_DOT_WORDS})\s+|\s*[.。．]\s*)"
)
_TLDS = (
    r"com|org|net|edu|gov|mil|int|info|biz|io|co|health|ca|uk|ie|cn|fr|ru|in|na|kr|de|nl|be|ch"
    r"|au|nz|za|us|jp|hk|tw|sg|ae|sa|jo|eg|ma|lb|qa|kw|om|bh|tn|dz|ua|kz|by|qc|on|nhs|hscni"
)
_PROVIDERS = (
    r"gmail|googlemail|hotmail|outlook|live|yahoo|icloud|aol|proton(?:mail)?|163|126|qq|sina"
    r"|sohu|naver|hanmail|daum|nate|yandex|mail|rambler|rediffmail|sympatico|videotron|bell"
)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(
    rf"(?:{_LABEL}{_DOT})+(?:{_TLDS})(?![A-Za-z0-9])|(?:{_PROVIDERS})(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_LOCAL_PART = r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*"
_LOCAL = re.compile(rf"{_LOCAL_PART}(?:{_DOT}{_LOCAL_PART})*\Z", re.IGNORECASE)
#: Substrings one of which every obfuscated address holds (a cheap test before the patterns).
_AT_HINTS = (
    "@", "＠", " at ", "(at", "[at", "{at", "<at", "at)", "at]", "at}", "at>", "\nat ", " at\n",
    "\tat", "at\t", "arobase", "собака", "艾特", "골뱅이", "آت",
)  # fmt: skip
#: English words that precede " at " and are not a local part ("seen at", "lives at").
_NOT_LOCAL = _word_set(
    """seen look looked arrived arrive lives lived live works worked work stays stayed met meet
    born died admitted discharged started start stopped stop is was are were be been available
    reached reach him her them us me it this that which who one email e-mail mail write written
    contact reply send sent"""
)


def obfuscated_emails(text: str) -> Iterator[Found]:
    """E-mail addresses written with words or spaces for @ and the dots."""
    lower = text.lower()
    if not any(at in lower for at in _AT_HINTS):
        return
    for core in _AT_CORE.finditer(text):
        left = _AT_LEFT.search(text, max(0, core.start() - 8), core.start())
        right = _AT_RIGHT.match(text, core.end())
        if left is None and right is None:
            continue  # name@host.com is the plain pattern's; "what" is no "at"
        if core.group(0) not in "@＠" and (left is None or right is None):
            continue
        at_start = left.start() if left is not None else core.start()
        at_end = right.end() if right is not None else core.end()
        host = _HOST.match(text, at_end)
        if host is None or host.group(0).lower().startswith("www") or text[host.end() :][:1] == "/":
            continue  # a web address ("notes at www.example.org/case/7")
        local = _LOCAL.search(text, max(0, at_start - 80), at_start)
        if local is None:
            continue
        start = local.start()
        # The regex takes the leftmost start: drop leading words that are not the address.
        words = re.split(rf"({_DOT})", text[start:at_start], flags=re.IGNORECASE)
        while len(words) > 1 and words[0].lower() in _NOT_LOCAL:
            start += len(words[0]) + len(words[1])
            words = words[2:]
        if words and words[0].lower() in _NOT_LOCAL and len(words) == 1:
            continue
        # A plain address (name@host.com) is found by the ordinary pattern already.
        yield start, host.end()


# ----------------------------------------------------------------------------- numbers

_UNITS_EN = "zero|oh|o|nought|nil|one|two|three|four|five|six|seven|eight|nine"
_TEENS_EN = "ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
_TENS_EN = "twenty|thirty|forty|fourty|fifty|sixty|seventy|eighty|ninety"
_UNITS_FR = "zéro|zero|un|une|deux|trois|quatre|cinq|six|sept|huit|neuf"
_TEENS_FR = "dix|onze|douze|treize|quatorze|quinze|seize"
_TENS_FR = "vingt|trente|quarante|cinquante|soixante|septante|huitante|octante|nonante"
_UNITS_RU = "ноль|нуль|один|одна|два|две|три|четыре|пять|шесть|семь|восемь|девять"
_TEENS_RU = (
    "десять|одиннадцать|двенадцать|тринадцать|четырнадцать|пятнадцать|шестнадцать|семнадцать"
    "|восемнадцать|девятнадцать"
)
_TENS_RU = "двадцать|тридцать|сорок|пятьдесят|шестьдесят|семьдесят|восемьдесят|девяносто"

_ONE_DIGIT = frozenset(f"{_UNITS_EN}|{_UNITS_FR}|{_UNITS_RU}".split("|"))
_TWO_DIGITS = frozenset(
    f"{_TEENS_EN}|{_TENS_EN}|{_TEENS_FR}|{_TENS_FR}|{_TEENS_RU}|{_TENS_RU}".split("|")
)
_REPEAT = {"double": 2, "triple": 3, "treble": 3}
_HUNDRED = frozenset({"hundred", "cent", "cents", "сто"})
_ALL_WORDS = _ONE_DIGIT | _TWO_DIGITS | frozenset(_REPEAT) | _HUNDRED | {"et"}
#: Words (compounds joined by hyphens: forty-two, soixante-dix-huit, vingt-et-un); the number
#: words among them are picked by set look-ups, far cheaper than a regex of all the words.
_WORDS = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_PLAIN_WORDS = re.compile(r"[^\W\d_]+")
#: What may stand between two parts of one spelled number: separators and digit groups.
_JOINER = re.compile(r"[\s,.;:/()-]*(?:\d+[\s,.;:/()-]*)*")
_DIGIT_GROUPS = re.compile(r"\d+")
_EDGE_DIGITS_AFTER = re.compile(r"(?:[\s,.;:/()-]*\d+)+")
_EDGE_DIGITS_BEFORE = re.compile(r"(?:\d+[\s,.;:/()-]*)+\Z")
_HAN_DIGITS = re.compile(r"[零〇一二三四五六七八九幺壹贰叁肆伍陆柒捌玖两]{7,}")


def _word_digits(word: str) -> int:
    """How many digits a (possibly hyphenated) number word stands for."""
    parts = [p for p in word.lower().split("-") if p != "et"]
    if len(parts) > 1:
        return 2  # forty-two, soixante-dix-huit, quatre-vingt-douze
    part = parts[0]
    if part in _TWO_DIGITS:
        return 2
    if part in _HUNDRED:
        return 2  # "five hundred" adds two digits to the five
    if part in _REPEAT:
        return 0  # counted with the word it repeats
    return 1


def _is_number_word(word: str) -> bool:
    if word in _ALL_WORDS:
        return word != "et"
    return "-" in word and all(part in _ALL_WORDS for part in word.split("-"))


def spelled_numbers(text: str) -> Iterator[Found]:
    """Runs of number words (and digits among them) that spell seven digits or more."""
    for m in _HAN_DIGITS.finditer(text):
        yield m.start(), m.end()
    lower = text.lower()
    # Cheap test first (no Python loop): a run needs two number words with no other word
    # between them; the flags of the words' membership hold two ones side by side.
    flags = bytes(map(_ALL_WORDS.__contains__, _PLAIN_WORDS.findall(lower)))
    if b"\x01\x01" not in flags:
        return
    words = [m for m in _WORDS.finditer(lower) if _is_number_word(m.group(0))]
    run: list[re.Match[str]] = []
    for word in [*words, None]:
        if (
            word is not None
            and run
            and _JOINER.fullmatch(text, run[-1].end(), word.start()) is not None
        ):
            run.append(word)
            continue
        if len(run) >= 2:
            found = _spelled_run(text, run)
            if found is not None:
                yield found
        run = [word] if word is not None else []


def _spelled_run(text: str, run: list[re.Match[str]]) -> Found | None:
    start, end = run[0].start(), run[-1].end()
    before = _EDGE_DIGITS_BEFORE.search(text, max(0, start - 24), start)
    if before is not None:
        start = before.start()
    after = _EDGE_DIGITS_AFTER.match(text, end)
    if after is not None:
        end = after.end()
    digits = sum(len(g) for g in _DIGIT_GROUPS.findall(text, start, end))
    repeat = 1
    for word in run:
        lower = word.group(0).lower()
        if lower in _REPEAT:
            repeat = _REPEAT[lower]
            continue
        digits += _word_digits(lower) * repeat
        repeat = 1
    single = [w for w in run if w.group(0).lower() in {"o", "un", "une"}]
    if len(single) == len(run):
        return None  # "o" and "un" alone are letters and articles, not a number
    return (start, end) if digits >= 7 else None
