# ruff: noqa: RUF001
"""A deterministic PHI screener: patterns for the HIPAA Safe Harbor identifiers.

Statistical recognisers flagged most clean clinical notes ("54-year-old", "12 weeks", lab values),
so this screener uses patterns with context: a number is only an identifier next to a label
(MRN, OHIP, passport...), in a date or address shape, or as a phone number valid in a region.
Measure it with `python services/cases/tests/measure_screener.py` (precision and recall per
category on the labelled corpus).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

import phonenumbers

from echo_cases.adapters.phi_checksums import checksummed_ids
from echo_cases.adapters.phi_names import names_in_scripts
from echo_cases.adapters.phi_spelled import obfuscated_emails, spelled_numbers
from echo_cases.domain.screening import PhiCategory, Span

C = PhiCategory
_I = re.IGNORECASE


def _initials(alternation: str) -> str:
    """The characters the words of a plain `a|b|c` alternation start with, for a class."""
    words = alternation.split("|")
    assert all(w and w[0] not in "([\\" for w in words), "only plain word alternations"
    return "".join(sorted({re.escape(w[0]) for w in words}))


def _lead(first: str, pattern: str, flags: int = 0) -> re.Pattern[str]:
    """`pattern`, behind a look-ahead for the characters any of its matches starts with.

    `re` tries every word of a long alternation at every position of the text; the look-ahead
    turns most positions away at once (about 5x faster on the place names). The look-ahead
    only filters: `first` must hold every character a match can start with.
    """
    return re.compile(f"(?=[{first}])(?:{pattern})", flags)


# ----------------------------------------------------------------------------- emails, URLs, IPs

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_URL = re.compile(
    r"\b(?:(?:https?|ftp)://|www\.)[^\s<>\"']+"
    r"|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|org|net|ca|uk|cn|fr|io|info|gov|edu|health)"
    r"(?:/[^\s<>\"']*)?(?![\w.])",
    _I,
)
_IPV4 = _lead(
    r"\d",
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?![\d.]\d)",
)
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")

# ----------------------------------------------------------------------------- dates

_MONTHS_EN = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)"
)
_MONTHS_FR = (
    r"(?:janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre"
    r"|novembre|décembre|decembre)"
)
_UNIT_AFTER = r"(?!\s*(?:mg|mcg|µg|g\b|kg|ml|mL|l\b|L\b|%|units?|IU|mmol|mmHg|h\b|hours?|days?))"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])"
_ORDINALS = (
    r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth"
    r"|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth"
    r"|twenty-(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)|thirtieth"
    r"|thirty-first)"
)
_DATES: tuple[re.Pattern[str], ...] = (
    # 12 March 2024, 3rd of Jan, 1er janvier 2024
    re.compile(
        rf"\b{_DAY}(?:st|nd|rd|th|er)?\s+(?:of\s+)?(?:{_MONTHS_EN}\b\.?|(?i:{_MONTHS_FR})\b)"
        r"(?:,?\s+(?:19|20)?\d{2}\b)?"
    ),
    # March 12, 2024 / Mar 3
    re.compile(
        rf"\b{_MONTHS_EN}\.?\s+{_DAY}(?:st|nd|rd|th)?\b{_UNIT_AFTER}(?:,?\s+(?:19|20)\d{{2}}\b)?"
    ),
    # March 2024, mars 2023 (the month is a date element)
    _lead(
        "ADFJMNOSadfjmnos",
        rf"\b(?:{_MONTHS_EN}\.?|(?i:{_MONTHS_FR}))\s+(?:of\s+)?(?:19|20)\d{{2}}\b",
    ),
    # 2024-03-12, 2024/3/12
    re.compile(r"\b(?:19|20)\d{2}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])\b"),
    # 12/03/2024, 03-12-24, 12.03.2024
    re.compile(
        r"(?<![\d/.-])(?:0?[1-9]|[12]\d|3[01])([/.-])(?:0?[1-9]|[12]\d|3[01])\1(?:19|20)?\d{2}"
        r"(?![\d/.-]*\d)"
    ),
    # 2024年3月12日, 3月12日, 2024年3月
    re.compile(r"(?:\d{4}\s*年\s*)?\d{1,2}\s*月\s*\d{1,2}\s*[日号]|\d{4}\s*年\s*\d{1,2}\s*月"),
    # on 3/14, DOB: 14/3 (a day and month with no year, where the words say it is a date)
    re.compile(
        r"\b(?:on|dated|DOB|dob|born|admitted|discharged|le)\s+(?P<d>(?:0?[1-9]|[12]\d|3[01])"
        r"/(?:0?[1-9]|[12]\d|3[01]))\b(?!/)"
    ),
    # date of birth: <anything up to the end of the clause>
    _lead(
        "bdn出",
        r"(?:\b(?:DOB|D\.O\.B\.?|date of birth|born on|née? le|date de naissance)|出生日期)"
        r"\s*[:：]?\s*[\w/.,-]+(?:\s+[\w/.-]+){0,2}",
        _I,
    ),
    # the third of May, the 21st of June
    _lead(
        "efnst0-9",
        rf"\b(?:the\s+)?(?:{_ORDINALS}|{_DAY}(?:st|nd|rd|th))\s+of\s+(?:{_MONTHS_EN}\b|"
        rf"(?i:{_MONTHS_FR})\b)(?:,?\s+(?:19|20)\d{{2}}\b)?",
        _I,
    ),
)

# ----------------------------------------------------------------------------- ages over 89

_AGE_NUMBER: tuple[re.Pattern[str], ...] = (
    re.compile(r"\b(\d{2,3})\s*-?\s*(?:years?|yrs?)[- ]old\b", _I),
    re.compile(r"\b(\d{2,3})\s*-?\s*(?:yo|y/o|y\.o\.?|yr-old)(?![\w/])", _I),
    re.compile(r"\b(?:aged?|âgée?\s+de|agé(?:e)?\s+de)\s*[:：]?\s*(\d{2,3})\b", _I),
    re.compile(r"\b(\d{2,3})\s*ans\b", _I),
    re.compile(r"(\d{2,3})\s*(?:周岁|岁)"),
    re.compile(r"\b(\d{2,3})\s+years?\s+of\s+age\b", _I),
    re.compile(r"\b(\d{2,3})\s*(?:M|F|male|female|man|woman)\b(?=[,.;\s])"),
)
_AGE_WORDS = _lead(
    "cinoq九百",
    r"\b(?:ninety|one hundred(?: and)?)(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?"
    r"[- ](?:years?[- ]old|year-old)\b"
    r"|\b(?:nonagenarian|centenarian)s?\b"
    r"|\bin\s+(?:his|her|their)\s+(?:nineties|90s|hundreds)\b"
    r"|\bquatre-vingt-(?:dix|onze|douze|treize|quatorze|quinze|seize|dix-sept|dix-huit|dix-neuf)"
    r"\s+ans\b"
    r"|九十多?岁|百岁",
    _I,
)
_TWO_THREE_DIGITS = re.compile(r"(?<!\d)\d{2,3}(?!\d)")
_BORN_YEAR = re.compile(r"\b(?:born|né|née)\s+(?:in\s+|en\s+)?(1[89]\d\d)\b", _I)

# ----------------------------------------------------------------------------- labelled numbers

_ID_VALUE = (
    r"((?:[A-Za-z]{1,4}[ -])?[A-Za-z0-9]*\d[A-Za-z0-9]*(?:[ /-][A-Za-z0-9]*\d[A-Za-z0-9]*)*"
    r"(?:[ -](?-i:[A-Z]{1,2})\b)?)"
)
_ID_SEP = r"\s*(?:(?:number|numéro|num|no\.?|n°|#|is|was|=)\s*)?[:#：]?\s*"
_LABELS: tuple[tuple[PhiCategory, str, int], ...] = (
    (
        C.MEDICAL_RECORD_NUMBER,
        r"MRN|medical\s+record(?:\s+number)?|med\.?\s*rec\.?|chart|hospital\s+(?:number|no\.?|ID)"
        r"|patient\s+(?:ID|number|no\.?)|case\s+number|dossier(?:\s+médical)?|numéro\s+de\s+dossier"
        r"|encounter\s+(?:ID|number)|accession(?:\s+number)?|病历号|住院号|病案号"
        r"|медицинская\s+карта|номер\s+карты|история\s+болезни|رقم\s+الملف(?:\s+الطبي)?"
        r"|병록번호|등록번호|차트\s*번호|UHID|OPD\s+(?:number|no\.?)|पंजीकरण\s+संख्या",
        3,
    ),
    (
        C.HEALTH_PLAN_NUMBER,
        r"OHIP|health\s+card|health\s+insurance|HCN|PHN|NHS|H&C|H\+C|RAMQ|carte\s+vitale"
        r"|insurance(?:\s+(?:ID|plan))?|policy|member\s+ID|beneficiary(?:\s+ID)?|plan\s+ID"
        r"|assurance\s+maladie|医保卡?|社保卡?|医疗保险"
        r"|полис(?:\s+ОМС)?|ОМС|رقم\s+التأمين|التأمين\s+الصحي|건강보험(?:증)?(?:\s*번호)?|ABHA"
        r"|आयुष्मान(?:\s+कार्ड)?",
        3,
    ),
    (
        C.NATIONAL_ID,
        r"SSN|SIN|social\s+insurance|social\s+security|NIR|sécurité\s+sociale|NAS"
        r"|passport|passeport|national\s+ID|ID\s+card|identity\s+card|身份证(?:号码|号)?"
        r"|СНИЛС|паспорт|ИНН|رقم\s+الهوية|الهوية\s+الوطنية|جواز\s+السفر|주민등록번호|주민번호"
        r"|여권(?:\s*번호)?|Aadhaar|आधार(?:\s+संख्या|\s+नंबर)?|पैन",
        3,
    ),
    (
        C.ACCOUNT_NUMBER,
        r"account|acct\.?|IBAN|billing|invoice|compte",
        4,
    ),
    (
        C.LICENCE_NUMBER,
        r"(?:driver'?s\s+)?licen[cs]e|DL|permis(?:\s+de\s+conduire)?|CPSO|GMC|DEA|NPI"
        r"|驾驶证|执业证",
        3,
    ),
    (
        C.VEHICLE_ID,
        r"(?:licen[cs]e\s+)?plate|VIN|vehicle\s+registration|registration\s+plate"
        r"|immatriculation|车牌号?",
        2,
    ),
    (
        C.DEVICE_ID,
        r"serial|S/N|SN|device\s+ID|IMEI|UDI|implant\s+ID|lot|numéro\s+de\s+série|序列号",
        3,
    ),
)
_LABELLED: tuple[tuple[PhiCategory, re.Pattern[str], int], ...] = tuple(
    (cat, re.compile(rf"(?<![\w])(?:{label})(?![\w]){_ID_SEP}{_ID_VALUE}", _I), digits)
    for cat, label, digits in _LABELS
)
_LABEL_WORDS: dict[PhiCategory, tuple[str, ...]] = {
    cat: tuple(
        {
            word.lower()
            for word in re.findall(
                r"[A-Za-zéèç&+'/]{2,}|[\u4e00-\u9fff]{2,}|[А-ЯЁа-яё]{3,}|[\u0621-\u064A]{3,}"
                r"|[\uac00-\ud7a3]{2,}|[\u0900-\u097F]{2,}",
                label,
            )
            if word.lower() not in {"number", "no", "of", "de", "id", "des", "du"}
        }
    )
    for cat, label, _ in _LABELS
}
#: The label words that name an id's kind (not "number", "numéro", "номер" alone).
_SPELLED_LABEL_WORDS: dict[PhiCategory, tuple[str, ...]] = {
    cat: tuple(w for w in words if w not in {"numéro", "номер", "карты", "card", "num", "lot"})
    for cat, words in _LABEL_WORDS.items()
}
_CN_ID = re.compile(r"(?<!\d)\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[\dXx](?![\dA-Za-z])")
_GROUPED_3_3_4 = re.compile(r"(?<![\d-])\d{3}[ -]\d{3}[ -]\d{4}(?![\d-])")
_GROUPED_3_3_3 = re.compile(r"(?<![\d-])\d{3}[ -]\d{3}[ -]\d{3}(?![\d-])")
_OHIP = re.compile(r"(?<![\d-])\d{4}[ -]\d{3}[ -]\d{3}(?:[ -]?[A-Z]{2})?(?![\d-])")
_VIN = re.compile(
    r"\b(?=[A-HJ-NPR-Z0-9]{17}\b)(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-HJ-NPR-Z0-9]{17}\b"
)
#: A number followed by a unit is a quantity, however long.
_QUANTITY_UNIT = (
    r"(?:copies|IU|iu|cells|cp|units?|U\b|mg|mcg|ug|µg|ng|pg|g\b|kg|mL|ml|L\b|dL|mmol|umol"
    r"|µmol|pmol|nmol|mEq|%|/|x\s*10|per\b|cfu|CFU|platelets|mm3|kPa|mmHg)"
)
_UNIT_NEXT = re.compile(rf"\s*{_QUANTITY_UNIT}")
_DECIMAL = re.compile(r"\d+[.,]\d{1,3}")
_LONG_NUMBER = re.compile(rf"(?<![\d/])(?<!\d[.,])\d{{8,}}(?!\d|[.,]\d|/)(?!\s*{_QUANTITY_UNIT})")

#: Drug and terminology codes are clinical, not identifiers of a person.
_CODE_BEFORE = re.compile(
    r"\b(?:DIN|NDC|ATC|LOINC|SNOMED(?:\s+CT)?|ICD(?:-10|-11)?|CPT|code)\W*$", _I
)

# ----------------------------------------------------------------------------- phones

_PHONE_LABELLED = _lead(
    "cefmpt电手传",
    r"(?:\b(?:tel|phone|telephone|téléphone|cell|mobile|portable|fax|pager|contact|ext)\.?"
    r"|电话|手机|传真)\s*(?:number|no\.?|numéro)?\s*[:：]?\s*(\+?[\d(][\d ()./-]{5,}\d)",
    _I,
)
#: Phone labels in Cyrillic, Arabic, Hangul and Devanagari script; a few words may stand between
#: the label and the number ("по номеру", "رقم هاتف الابنة").
_PHONE_LABELLED_SCRIPTS = re.compile(
    r"(?=[тТмМнНرالهج전휴연핸फमस])"  # what a label starts with: most positions fail at once
    r"(?:(?<![А-Яа-яЁё])(?:телефон[а-я]*|тел\.|моб\.|мобильн[а-я]*|номер[а-я]*)"
    r"|(?:رقم\s+)?(?:ال)?(?:هاتف|جوال)|전화(?:번호)?|휴대전화|휴대폰|연락처|핸드폰"
    r"|फ़ोन|फोन|मोबाइल|संपर्क)"
    r"[^\d+(\n]{0,24}?\s*[:：]?\s*(\+?[\d(][\d ()./-]{5,}\d)",
    _I,
)
_OTHER_SCRIPTS = re.compile(r"[\u0400-\u04FF\u0600-\u06FF\u0900-\u097F\uac00-\ud7a3]")
#: Where the patients of the regions come from: their numbers are tried as national numbers too.
_PATIENT_PHONE_REGIONS = ("IN", "KR", "RU", "NA", "US")
_PHONE_CANDIDATE = re.compile(r"(?<![\w.,/+-])(?:\+|\(\d)?[\d ()./-]{6,}\d(?![\w.,/]\d)")
_PHONE_NANP = re.compile(r"(?<![\d/.-])\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?![\d/.-]*\d)")

# ----------------------------------------------------------------------------- places

_POSTCODE_CA = re.compile(r"\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][ -]?\d[ABCEGHJ-NPRSTV-Z]\d\b")
_POSTCODE_UK = re.compile(r"\b(?:[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2})\b")
_TNM = re.compile(r"[pcy]?T[0-4X][a-d]?N[0-3X][a-c]?M[01X]")
_POSTCODE_CN_LABELLED = _lead(
    "cpz邮",
    r"(?:邮编|邮政编码|\b(?:postcode|postal\s+code|post\s+code|zip(?:\s+code)?|code\s+postal))"
    r"\s*[:：]?\s*([A-Z0-9]{3,4}\s?[A-Z0-9]{3}|\d{5,6})",
    _I,
)
_SIX_DIGITS = re.compile(r"(?<!\d)(?<!\d[.,])[1-8]\d{5}(?!\d|[.,]\d)")
_FR_POSTCODE = re.compile(r"(?<![\d.,])(?:F-)?\d{5}\s+(?=[A-ZÉ][a-zéèêàç]+)")
_CN_CONTEXT = re.compile(
    r"China|PRC|中国|省|市|区|县|路|Province|District|Shanghai|Beijing|Shenzhen|Guangzhou"
    r"|Chengdu|Wuhan|Hangzhou|Nanjing|Tianjin|Chongqing|Road|Lu\b|Jie\b",
    _I,
)

_STREET_TYPES = (
    r"Street|St|Road|Rd|Avenue|Ave|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Crescent|Cres"
    r"|Way|Place|Pl|Terrace|Close|Gardens|Parkway|Pkwy|Highway|Hwy|Square|Sq|Row|Mews|Grove"
    r"|Circle|Trail|Line|Concession|Sideroad|Park|Walk|Hill|Heights|Lu|Jie|Dajie|Hutong"
)
_STREETS: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"\b\d{1,5}[A-Za-z]?(?:[-/]\d{1,5})?,?\s+(?:[A-Z][A-Za-z'’.-]*\s+){1,4}"
        rf"(?:{_STREET_TYPES})\b\.?"
    ),
    # 12 elm st, 40 king street (typed in lower case)
    re.compile(
        r"\b\d{1,5}\s+(?!(?:hours?|days?|weeks?|months?|years?|minutes?|km|kilometres?|miles?"
        r"|times|mg|blocks?|stops?)\b)(?:[a-z]+\s+){1,2}(?:street|st|road|rd|avenue|ave|boulevard|blvd|lane"
        r"|crescent|cres|drive)\b\.?"
    ),
    re.compile(
        r"\b\d{1,5}(?:\s*(?:bis|ter))?,?\s+(?i:rue|avenue|av\.|boulevard|boul\.|bd|chemin|ch\."
        r"|route|place|allée|impasse|quai|rang|montée|côte|cours)\s+"
        r"(?:(?:de|du|des|la|le|l'|d'|de la|Saint|St|Sainte|Ste)[\s-]*)*[A-ZÉ][\w'’-]+"
    ),
    _lead(
        "A-Z",
        r"(?:No\.?\s*\d+,?\s+)?(?:[A-Z][a-z]+\s+){1,3}(?:Road|Lu|Street|Jie|Avenue|Dajie)"
        r"(?:\s+(?:North|South|East|West|Middle|Zhong|Bei|Nan|Dong|Xi))?"
        r",?\s+(?:No\.?|Number|#)\s*\d+\b",
    ),
    re.compile(r"\b(?:Lane|Nong)\s+\d+(?:,?\s+(?:[A-Z][a-z]+\s+){1,3}(?:Road|Lu|Street))?"),
    re.compile(
        r"\b(?:Apt|Apartment|Suite|Unit|Flat|Room|Rm|Building|Bldg|Floor|appartement|app\.)"
        r"\.?\s*#?\s*\d{1,4}[A-Z]?\b(?=[,\s]+(?:\d|[A-Z]))",
    ),
    # Not "RR 18" (a respiratory rate): only the spelled-out rural route.
    re.compile(r"\b(?:P\.?\s?O\.?\s+Box|Case\s+postale|Rural\s+Route)\s*#?\s*\d{1,6}\b"),
    re.compile(
        r"[\u4e00-\u9fff]{1,12}(?:路|街|大道|道|巷|弄|胡同|里)\s*\d+\s*(?:号|弄)"
        r"(?:\s*\d+\s*(?:号楼|栋|幢))?(?:\s*\d+\s*室)?"
        r"|\d+\s*(?:号楼|栋|幢)\s*\d+\s*室|[\u4e00-\u9fff]{2,8}(?:小区|新村|公寓|花园)"
    ),
)

_PLACES = (
    # Ontario and the rest of Canada (provinces are allowed: Safe Harbor stops at the state)
    "Toronto|Ottawa|Hamilton|London|Kingston|Sudbury|Thunder Bay|Timmins|Kenora|Sioux Lookout"
    "|Moosonee|Moose Factory|Attawapiskat|Kashechewan|Kapuskasing|Mississauga|Brampton|Barrie"
    "|Windsor|Kitchener|Waterloo|Guelph|Peterborough|Belleville|Cornwall|Sault Ste\\.? Marie"
    "|North Bay|Oshawa|Markham|Scarborough|Etobicoke|Niagara Falls|St\\.? Catharines|Owen Sound"
    "|Orillia|Huntsville|Parry Sound|Elliot Lake|Cochrane|Fort Albany|Dryden|Sarnia|Brantford"
    "|Pembroke|Hearst|Wawa|Kirkland Lake|Red Lake|Pikangikum|Sandy Lake|Wasaga Beach|Collingwood"
    "|Montr[ée]al|Qu[ée]bec City|Ville de Qu[ée]bec|Gatineau|Sherbrooke|Trois-Rivi[èe]res|Laval"
    "|Chicoutimi|Saguenay|Rimouski|Longueuil|Val-d'Or|Rouyn-Noranda|Vancouver|Calgary|Edmonton"
    "|Winnipeg|Halifax|Regina|Saskatoon|Iqaluit|Yellowknife|Whitehorse|Moncton|Fredericton"
    # Northern Ireland, Britain, Ireland
    "|Belfast|Derry|Londonderry|Newry|Armagh|Enniskillen|Omagh|Lisburn|Bangor|Ballymena|Coleraine"
    "|Portadown|Craigavon|Strabane|Larne|Dungannon|Cookstown|Magherafelt|Downpatrick|Newtownards"
    "|Carrickfergus|Limavady|Banbridge|Holywood|Ballymoney|Portrush|Glasgow|Edinburgh|Manchester"
    "|Birmingham|Liverpool|Leeds|Cardiff|Bristol|Sheffield|Newcastle|Dublin|Cork|Galway"
    # China
    "|Shanghai|Beijing|Shenzhen|Guangzhou|Chengdu|Wuhan|Hangzhou|Nanjing|Xi'an|Chongqing|Tianjin"
    "|Suzhou|Kunming|Harbin|Qingdao|Xiamen|Changsha|Zhengzhou|Shenyang|Urumqi|Lhasa|Hefei"
    "|Fuzhou|Nanning|Guiyang|Lanzhou|Taiyuan|Shijiazhuang|Jinan|Dalian|Ningbo|Wenzhou|Dongguan"
    "|Foshan|Pudong|Xuhui|Minhang|Huangpu|Jing'an|Jingan|Putuo|Changning|Yangpu|Hongkou|Baoshan"
    "|Songjiang|Jiading|Qingpu|Fengxian|Chaoyang|Haidian|Dongcheng|Xicheng|Fengtai|Tianhe"
    "|Futian|Nanshan|Luohu|Yuexiu|Wuchang|Hankou"
    "|Moose Jaw|Prince Albert|Kamloops|Kelowna|Nanaimo|Lethbridge|Red Deer|Brandon|Flin Flon"
    "|Inuvik|Rankin Inlet|Cambridge Bay|Labrador City|Goose Bay|Corner Brook|Gander"
    "|Charlottetown|Saint John|Geraldton|Fort Frances|Atikokan|Nipigon|Terrace Bay|Marathon"
    "|Manitouwadge|Chapleau|Iroquois Falls|Smooth Rock Falls|Temiskaming Shores|New Liskeard"
    "|Espanola|Blind River|Little Current|Manitoulin|Tobermory|Bracebridge|Gravenhurst|Bancroft"
    "|Haliburton|Cobourg|Napanee|Brockville|Smiths Falls|Renfrew|Arnprior|Hawkesbury"
    "|Ballycastle|Cushendall|Dungiven|Kilkeel|Warrenpoint|Ballynahinch|Donaghadee|Portaferry"
    "|Crossmaglen|Keady|Lurgan|Lisnaskea|Irvinestown|Castlederg|Newtownstewart|Maghera"
    "|Ballyclare|Nantong|Wuxi|Changzhou|Yangzhou|Xuzhou|Nanchang|Kaifeng|Luoyang|Datong"
    "|Baotou|Hohhot|Yinchuan|Xining|Haikou|Sanya|Zhuhai|Shantou|Huizhou|Jiaxing|Shaoxing"
    "|Yiwu|Guilin|Lijiang|Dali|Yichang|Mianyang|Zunyi"
    # Namibia, India
    "|Windhoek|Oshakati|Rundu|Walvis Bay|Katima Mulilo|Delhi|New Delhi|Mumbai|Bangalore"
    "|Bengaluru|Chennai|Kolkata|Hyderabad|Pune"
)
_EPONYM_AFTER = (
    r"(?:Coma|Blatchford|Ankle|Knee|Foot|Rules?|Criteria|Scales?|Scores?|Classification|Depression"
    r"|Anxiety|Rating|Postnatal|Stool|Triage|Vasculitis|Protocol|Questionnaire|Consensus"
    r"|Declaration|Guidelines?|Statement|Model|Index|Cognitive|Assessment|Chest|Activity|Strain"
    r"|Genotype|Lineage|Syndrome|Disease|Agreement|Accord|Convention|Functional|Classification"
    r"|Prognostic|Staging|Tool|Method|Approach|Regimen)\b"
)
_EPONYM_BEFORE = re.compile(
    r"\b(?i:score|échelle|echelle|coma|critères|criteres|classification|maladie|syndrome)"
    r"\s+(?:de\s+|d')$"
)
_PLACE = _lead(_initials(_PLACES), rf"\b(?:{_PLACES})\b(?![-\s]+(?i:{_EPONYM_AFTER}))(?!-)")
_PLACE_HAN = re.compile(
    r"(?:上海|北京|天津|重庆|深圳|广州|成都|武汉|杭州|南京|苏州|西安|昆明|浦东|徐汇|闵行|静安|黄浦"
    r"|长宁|杨浦|虹口|宝山|朝阳|海淀|东城|西城)"
    r"|[\u4e00-\u9fff]{2,4}(?:区|县|镇|乡|村|街道)(?![\u4e00-\u9fff]?(?:医院|卫生))"
)
_PLACE_KIND = re.compile(
    r"\b(?:town|village|city|township|hamlet|community|reserve|county)\s+of\s+"
    r"[A-Z][a-z]+(?:[ -][A-Z][a-z]+)?"
    r"|\b(?:[A-Z][a-z]+\s+){1,3}(?:First Nation|Reserve|County|Township|Village|Parish|Borough)\b"
    r"|\b(?:County|Co\.)\s+(?:Antrim|Down|Armagh|Fermanagh|Tyrone|Londonderry|Derry|[A-Z][a-z]+)\b"
)

# ----------------------------------------------------------------------------- names

_TITLES = (
    r"Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Professor|Doctor|Madame|Mme|Mlle|Monsieur|M\.|Docteur|Dre"
    r"|Pr|Père|Mère|Rev|Reverend|Father|Chief"
)
_NAME_WORD = r"(?:[A-Z][a-zA-Zéèëïôçü'’-]+|[A-Z]\.)"
_NOT_NAME = frozenset(
    {
        "The", "A", "An", "And", "Or", "Of", "In", "On", "At", "To", "For", "With", "By", "From",
        "Patient", "Office", "Clinic", "Team", "Service", "Services", "Hospital", "Department",
        "Practitioner", "Says", "Said", "Is", "Was", "Has", "Had", "Will", "Would", "Who", "Also",
        "Recommended", "Recommends", "Suggested", "Notes", "Note", "Visit", "On-call", "Oncall",
        "Hub", "Spoke", "ECHO", "Echo", "Family", "Emergency", "General", "Internal", "Medicine",
        "Psychiatry", "Pediatrics", "Cardiology", "Nephrology", "Resident", "Fellow", "Nurse",
        "Pharmacist", "Specialist", "Consultant", "Lead", "Panel", "Then", "When", "After",
        "Before", "If", "But", "However", "It", "He", "She", "They", "We", "I", "Her", "His",
    }
)  # fmt: skip
_TITLED = re.compile(rf"\b(?:{_TITLES})\.?\s+{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}}")
_SURNAMES_PINYIN = (
    r"Wang|Li|Zhang|Liu|Chen|Yang|Huang|Zhao|Wu|Zhou|Xu|Sun|Ma|Zhu|Hu|Guo|Lin|Gao|Luo|Zheng"
    r"|Liang|Xie|Song|Tang|Han|Feng|Deng|Cao|Peng|Zeng|Xiao|Tian|Dong|Pan|Yuan|Cai|Jiang|Yu|Du"
    r"|Ye|Cheng|Wei|Su|Lu|Ding|Ren|Shen|Yao|Jin|Fu|Qian|Kong|Bai|Cui|Mao|Qiu|Qin|Gu|Hou|Shao"
    r"|Meng|Long|Wan|Duan|Lei|Qian|Tan|Zou|Xiong|Jia|Fan|Fang|Shi|Yan"
)
_PINYIN_SYLLABLE = r"(?:[bcdfghjklmnpqrstwxyz]|[csz]h)?(?:[aeiouv]|ü)[a-z]{0,4}"
_PINYIN_NAMES = (
    _lead(
        _initials(_SURNAMES_PINYIN),
        rf"\b(?:{_SURNAMES_PINYIN})\s+[A-Z]{_PINYIN_SYLLABLE}(?:[-']?{_PINYIN_SYLLABLE})?\b",
    ),
    re.compile(
        rf"\b[A-Z]{_PINYIN_SYLLABLE}(?:[-']?{_PINYIN_SYLLABLE})?\s+(?:{_SURNAMES_PINYIN})\b"
    ),
)
_GIVEN_NAMES = (
    "James|John|Robert|Michael|William|David|Richard|Joseph|Thomas|Charles|Daniel|Matthew|Mark"
    "|Paul|Steven|Andrew|Kevin|Brian|George|Edward|Ronald|Timothy|Jason|Jeffrey|Ryan|Gary|Eric"
    "|Stephen|Peter|Patrick|Sean|Liam|Noah|Ethan|Lucas|Owen|Connor|Ciaran|Declan|Seamus|Niall"
    "|Eoin|Aidan|Brendan|Colm|Mary|Patricia|Jennifer|Linda|Elizabeth|Barbara|Susan|Jessica"
    "|Sarah|Karen|Nancy|Lisa|Margaret|Sandra|Ashley|Emily|Donna|Michelle|Carol|Amanda|Melissa"
    "|Deborah|Stephanie|Rebecca|Laura|Helen|Amy|Anna|Emma|Olivia|Sophie|Chloe|Grace|Siobhan"
    "|Aoife|Niamh|Ciara|Orla|Roisin|Bridget|Kathleen|Maureen|Eileen|Fiona|Claire|Rachel"
    "|Jean|Pierre|Jacques|Michel|Philippe|Alain|François|Francois|Luc|Marc|Louis|Andr[ée]"
    "|Benoît|Benoit|Mathieu|Étienne|Etienne|Guillaume|Sylvie|Nathalie|Isabelle|Catherine"
    "|Marie|Julie|Chantal|Monique|Céline|Celine|Geneviève|Genevieve|Josée|Josee|Manon|Louise"
    "|Hélène|Helene|Sophie|Camille|Élodie|Elodie|Mélanie|Melanie|Valérie|Valerie|Marie-Claude"
    "|Jean-Pierre|Jean-François|Jean-Francois|Anne-Marie|Ahmed|Mohammed|Muhammad|Fatima|Aisha"
    "|Priya|Raj|Ravi|Anil|Sunita|Deepak|Arjun|Ananya|Wei|Xiaoming|Xiaohong|Jing|Mei|Ling"
    "|Ying|Hong|Hui|Jun|Lei|Ming|Fang|Yan|Tao|Bo|Qiang|Min|Na|Li|Yong|Jie|Lan|Xiu|Hua|Bin"
    "|Tom|Tim|Jim|Bob|Bill|Joe|Sam|Ben|Max|Jack|Harry|Charlie|Alice|Kate|Lucy|Ella|Mia|Zoe"
)
_GIVEN_SURNAME = _lead(
    _initials(_GIVEN_NAMES),
    rf"\b(?:{_GIVEN_NAMES})\s+(?:[A-Z]\.\s+)?(?:Mc|Mac|O')?[A-Z][a-zéèç'’-]+\b",
)
_RELATIVE_NAME = re.compile(
    r"\b(?:wife|husband|son|daughter|mother|father|brother|sister|partner|friend|neighbou?r"
    r"|caregiver|carer|grandson|granddaughter|niece|nephew|femme|mari|fils|fille|mère|père"
    r"|conjointe?|employer|boss)\s*,?\s+(?:named\s+|called\s+|nommée?\s+)?"
    r"([A-Z][a-zéèç'’-]+(?:\s+[A-Z][a-zéèç'’-]+)?)"
)
_NAMED = re.compile(
    r"\b(?:patient\s+name|name|named|called|nom|prénom|surname|family\s+name|goes\s+by)"
    r"\s*[:：]?\s+([A-Z][a-zéèç'’-]+(?:\s+[A-Z][a-zéèç'’-]+){0,2})"
    r"|(?:姓名|名字)\s*[:：]?\s*[\u4e00-\u9fffA-Za-z]{2,20}"
)
_INITIALS = re.compile(r"\b(?:patient|pt|Mr|Mrs|Ms|client)\.?\s+[A-Z]\.\s?[A-Z]\.(?:\s?[A-Z]\.)?")
_HAN_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
    "万钱严覃武戴莫孔向汤欧"
)
_HAN_NAME = re.compile(
    rf"[{_HAN_SURNAMES}][\u4e00-\u9fff]{{0,2}}(?:先生|女士|医生|大夫|老师|护士|阿姨|小姐|师傅)"
    rf"|(?:患者|病人|病患)[{_HAN_SURNAMES}][\u4e00-\u9fff]{{1,2}}(?=[，,。 ]|$)"
)
_AMBIGUOUS_GIVEN = frozenset({"Mark", "Grace", "Bill", "Max", "Jack", "Will", "Bo", "Hong", "Na"})
_VERBS = (
    r"went|was|is|has|had|says|said|reports|reported|presented|called|came|comes|lives|lived"
    r"|takes|took|works|worked|feels|felt|asked|told|wants|needs|denies|denied|smokes|drinks"
    r"|a\s+été|est|habite|vit|a"
)
_LONE_GIVEN_VERB = _lead(_initials(_GIVEN_NAMES), rf"\b(?:{_GIVEN_NAMES})\b(?=\s+(?:{_VERBS})\b)")
_PATIENT_LABEL = re.compile(r"\b(?i:patient|pt|client|patiente)\s*:\s*[A-Z][a-zéèç'’-]+")
#: Given names that are unmistakably names even alone (Xiaoming, Xiaohong...).
_LONE_GIVEN = re.compile(r"\bXiao[a-z]{2,6}\b")

_HAN = re.compile(r"[\u4e00-\u9fff]")


def _has_han(text: str) -> bool:
    return _HAN.search(text) is not None


#: Patterns that cannot match a text without something a cheap test finds (a match of the
#: CJK date holds 月, the Han patterns a Han character, the ordinal date " of "): most texts
#: skip them without a scan of their own. Each test must hold for every text the pattern
#: matches in; the corpus test and `measure_screener.py` keep the findings the same.
_NEEDS: dict[re.Pattern[str], Callable[[str], bool]] = {
    _DATES[5]: lambda text: "月" in text,
    _DATES[8]: lambda text: "of" in text.lower(),
    _PLACE_HAN: _has_han,
    _HAN_NAME: _has_han,
}


def _may_match(pattern: re.Pattern[str], text: str) -> bool:
    need = _NEEDS.get(pattern)
    return need is None or need(text)


#: When two findings overlap, the longer wins; on equal length, the earlier category here
#: (a checksummed or labelled id says more than "a number that could be dialled").
_PRIORITY = {
    cat: n
    for n, cat in enumerate(
        (
            C.EMAIL, C.URL, C.IP_ADDRESS, C.NATIONAL_ID, C.HEALTH_PLAN_NUMBER,
            C.ACCOUNT_NUMBER, C.LICENCE_NUMBER, C.VEHICLE_ID, C.DEVICE_ID, C.PHONE,
            C.MEDICAL_RECORD_NUMBER, C.DATE, C.AGE_OVER_89, C.POSTCODE, C.STREET_ADDRESS,
            C.GEOGRAPHIC, C.NAME,
        )
    )
}  # fmt: skip


def _ok_age(value: str) -> bool:
    return value.isdigit() and 90 <= int(value) <= 130


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _nhs_ok(digits: str) -> bool:
    if len(digits) != 10:
        return False
    total = sum(int(d) * (10 - i) for i, d in enumerate(digits[:9]))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


class RegexPhiScreener:
    """Finds Safe Harbor identifiers with patterns and phone numbers valid in given regions."""

    def __init__(self, phone_regions: Iterable[str] = ("CA", "GB", "CN")) -> None:
        self.phone_regions = tuple(phone_regions)
        self._all_phone_regions = self.phone_regions + tuple(
            r for r in _PATIENT_PHONE_REGIONS if r not in self.phone_regions
        )
        self._detectors: tuple[Callable[[str], Iterator[Span]], ...] = (
            self._emails,
            self._urls,
            self._ips,
            self._phones,
            self._ids,
            self._dates,
            self._ages,
            self._postcodes,
            self._streets,
            self._places,
            self._names,
            self._spelled,
            self._checksummed,
        )

    def scan(self, text: str) -> list[Span]:
        """Every identifier in `text`; overlapping findings are resolved to the longest."""
        if not text.strip():
            return []
        found = [span for detect in self._detectors for span in detect(text)]
        found.sort(key=lambda s: (-(s.end - s.start), _PRIORITY[s.category], s.start))
        kept: list[Span] = []
        for span in found:
            if all(span.end <= k.start or span.start >= k.end for k in kept):
                kept.append(span)
        return sorted(kept)

    # ------------------------------------------------------------------ detectors

    @staticmethod
    def _emails(text: str) -> Iterator[Span]:
        for m in _EMAIL.finditer(text):
            yield Span(m.start(), m.end(), C.EMAIL)
        for start, end in obfuscated_emails(text):
            yield Span(start, end, C.EMAIL)

    @staticmethod
    def _spelled(text: str) -> Iterator[Span]:
        lower = text.lower()
        for start, end in spelled_numbers(text):
            # A number read out after an id label is that id; otherwise it is a phone number.
            before = lower[max(0, start - 40) : start]
            category = next(
                (
                    cat
                    for cat, words in _SPELLED_LABEL_WORDS.items()
                    if any(word in before for word in words)
                ),
                C.PHONE,
            )
            yield Span(start, end, category)

    @staticmethod
    def _checksummed(text: str) -> Iterator[Span]:
        for start, end, category in checksummed_ids(text):
            yield Span(start, end, category)

    @staticmethod
    def _urls(text: str) -> Iterator[Span]:
        for m in _URL.finditer(text):
            end = m.end()
            while end > m.start() and text[end - 1] in ".,;:)]}!?'\"":
                end -= 1
            if "@" in text[max(0, m.start() - 1) : end]:
                continue
            yield Span(m.start(), end, C.URL)

    @staticmethod
    def _ips(text: str) -> Iterator[Span]:
        for m in _IPV4.finditer(text):
            yield Span(m.start(), m.end(), C.IP_ADDRESS)
        for m in _IPV6.finditer(text):
            value = m.group(0)
            # Times (12:30:45) are not addresses: ask for 3+ groups and a '::' or 8 groups.
            if len([g for g in value.split(":") if g]) < 3:
                continue
            try:
                ipaddress.IPv6Address(value)
            except ValueError:
                continue
            yield Span(m.start(), m.end(), C.IP_ADDRESS)

    def _phones(self, text: str) -> Iterator[Span]:
        # Parse only digit runs that could be dialled: PhoneNumberMatcher over the whole text
        # for three regions cost most of the screening time.
        for m in _PHONE_CANDIDATE.finditer(text):
            candidate = m.group(0).rstrip(" ./-(")
            end = m.start() + len(candidate)
            if (
                len(_digits(candidate)) < 7
                or _DECIMAL.fullmatch(candidate)
                or _UNIT_NEXT.match(text, end)
            ):
                continue  # a quantity (a long decimal, or a number with its unit)
            for region in self._all_phone_regions:
                try:
                    number = phonenumbers.parse(candidate, region)
                except phonenumbers.NumberParseException:
                    continue
                if phonenumbers.is_valid_number(number):
                    yield Span(m.start(), m.start() + len(candidate), C.PHONE)
                    break
        labelled = (_PHONE_LABELLED, _PHONE_LABELLED_SCRIPTS)
        for pattern in labelled if _OTHER_SCRIPTS.search(text) else labelled[:1]:
            for m in pattern.finditer(text):
                if len(_digits(m.group(1))) >= 7:
                    yield Span(m.start(1), m.end(1), C.PHONE)
        for m in _PHONE_NANP.finditer(text):
            digits = _digits(m.group(0))
            if not (_luhn(digits[:9]) and len(digits) == 9) and not _nhs_ok(digits):
                yield Span(m.start(), m.end(), C.PHONE)

    @staticmethod
    def _ids(text: str) -> Iterator[Span]:
        lower = text.lower()
        for category, pattern, min_digits in _LABELLED:
            # A substring test is far cheaper than a regex scan; most texts have no label.
            if not any(word in lower for word in _LABEL_WORDS[category]):
                continue
            for m in pattern.finditer(text):
                value = m.group(1)
                if len(_digits(value)) >= min_digits:
                    yield Span(m.start(1), m.end(1), category)
        for m in _CN_ID.finditer(text):
            yield Span(m.start(), m.end(), C.NATIONAL_ID)
        for m in _GROUPED_3_3_4.finditer(text):
            if _nhs_ok(_digits(m.group(0))):
                yield Span(m.start(), m.end(), C.HEALTH_PLAN_NUMBER)
        for m in _GROUPED_3_3_3.finditer(text):
            if _luhn(_digits(m.group(0))):
                yield Span(m.start(), m.end(), C.NATIONAL_ID)
        for m in _OHIP.finditer(text):
            yield Span(m.start(), m.end(), C.HEALTH_PLAN_NUMBER)
        for m in _VIN.finditer(text):
            yield Span(m.start(), m.end(), C.VEHICLE_ID)
        for m in _LONG_NUMBER.finditer(text):
            if not _CODE_BEFORE.search(text[max(0, m.start() - 16) : m.start()]):
                yield Span(m.start(), m.end(), C.MEDICAL_RECORD_NUMBER)

    @staticmethod
    def _dates(text: str) -> Iterator[Span]:
        for pattern in _DATES:
            if not _may_match(pattern, text):
                continue
            for m in pattern.finditer(text):
                group = "d" if "d" in pattern.groupindex else 0
                start, end = m.span(group)
                while end > start and text[end - 1] in ".,;:":
                    end -= 1
                yield Span(start, end, C.DATE)

    @staticmethod
    def _ages(text: str) -> Iterator[Span]:
        old_enough = any(int(n) >= 90 for n in _TWO_THREE_DIGITS.findall(text))
        for pattern in _AGE_NUMBER if old_enough else ():
            for m in pattern.finditer(text):
                if _ok_age(m.group(1)):
                    yield Span(m.start(), m.end(), C.AGE_OVER_89)
        for m in _AGE_WORDS.finditer(text):
            yield Span(m.start(), m.end(), C.AGE_OVER_89)
        this_year = datetime.now(UTC).year
        for m in _BORN_YEAR.finditer(text):
            if this_year - int(m.group(1)) > 89:
                yield Span(m.start(), m.end(), C.AGE_OVER_89)

    @staticmethod
    def _postcodes(text: str) -> Iterator[Span]:
        for pattern in (_POSTCODE_CA, _POSTCODE_UK):
            for m in pattern.finditer(text):
                if not _TNM.fullmatch(m.group(0).replace(" ", "")):
                    yield Span(m.start(), m.end(), C.POSTCODE)
        for m in _POSTCODE_CN_LABELLED.finditer(text):
            yield Span(m.start(1), m.end(1), C.POSTCODE)
        for m in _SIX_DIGITS.finditer(text):
            window = text[max(0, m.start() - 40) : m.end() + 25]
            if _CN_CONTEXT.search(window):
                yield Span(m.start(), m.end(), C.POSTCODE)
        for m in _FR_POSTCODE.finditer(text):
            yield Span(m.start(), m.end() - 1, C.POSTCODE)

    @staticmethod
    def _streets(text: str) -> Iterator[Span]:
        for pattern in _STREETS:
            for m in pattern.finditer(text):
                yield Span(m.start(), m.end(), C.STREET_ADDRESS)

    @staticmethod
    def _places(text: str) -> Iterator[Span]:
        for pattern in (_PLACE, _PLACE_HAN, _PLACE_KIND):
            if not _may_match(pattern, text):
                continue
            for m in pattern.finditer(text):
                window = max(0, m.start() - 30)
                if pattern is _PLACE and _EPONYM_BEFORE.search(text, window, m.start()):
                    continue  # score de Glasgow, échelle de Glasgow
                yield Span(m.start(), m.end(), C.GEOGRAPHIC)

    @staticmethod
    def _names(text: str) -> Iterator[Span]:
        for m in _TITLED.finditer(text):
            words = m.group(0).split()
            # Cut the name where a word that is not a name begins.
            keep = [words[0]]
            for word in words[1:]:
                if word.rstrip(".,") in _NOT_NAME:
                    break
                keep.append(word)
            if len(keep) > 1:
                end = m.start() + len(" ".join(keep))
                piece = text[m.start() : end]
                yield Span(m.start(), m.start() + len(piece.rstrip(".,")), C.NAME)
        for pattern in (*_PINYIN_NAMES, _GIVEN_SURNAME):
            for m in pattern.finditer(text):
                words = m.group(0).split()
                if words[0] not in _NOT_NAME and words[-1] not in _NOT_NAME:
                    yield Span(m.start(), m.end(), C.NAME)
        for pattern in (_RELATIVE_NAME, _NAMED):
            for m in pattern.finditer(text):
                group = 1 if m.lastindex else 0
                value = m.group(group)
                if value is None or value.split()[0] in _NOT_NAME:
                    continue
                yield Span(m.start(group), m.end(group), C.NAME)
        for m in _LONE_GIVEN_VERB.finditer(text):
            if m.group(0) not in _AMBIGUOUS_GIVEN:
                yield Span(m.start(), m.end(), C.NAME)
        for pattern in (_INITIALS, _HAN_NAME, _LONE_GIVEN, _PATIENT_LABEL):
            if not _may_match(pattern, text):
                continue
            for m in pattern.finditer(text):
                yield Span(m.start(), m.end(), C.NAME)
        for start, end in names_in_scripts(text):
            yield Span(start, end, C.NAME)
