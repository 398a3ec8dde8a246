"""Identity documents: the resident ID (GB 11643) and the documents of the 港澳台入境人员 entry (docs/domain.md §1)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from operator import mul

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
_DIGIT_OFFSET = ord("0") * sum(WEIGHTS)
PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65".split()
)
RESIDENT_ID_RE = re.compile(r"^\d{17}[\dX]$", re.ASCII)
HMT_PREFIXES = ("81", "82", "83")
FOREIGNER_PREFIXES = frozenset(f"9{d}" for d in range(10))


def normalize_number(text: str) -> str:
    """Full-width to half-width, no spaces, upper case: how a citizen's typing is read."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).upper()


def check_char(first17: str) -> str:
    """MOD 11-2 over 17 ASCII digits (the callers check them), summed over their bytes: ~4x faster than int()."""
    if len(first17) != 17:
        raise ValueError("the check character needs 17 digits")
    return CHECK_CHARS[(sum(map(mul, first17.encode(), WEIGHTS)) - _DIGIT_OFFSET) % 11]


def birth_date(number: str) -> date | None:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def full_years(born: date, today: date) -> int:
    """Age in 周岁: the birthday itself counts, so a 2012-02-29 birth turns 16 on 2028-02-29, 17 on 2029-03-01."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def resident_id_ok(number: str, today: date, provinces: frozenset[str] = PROVINCES) -> bool:
    """Format, province, a real date not in the future, and the MOD 11-2 check character (docs/domain.md §1.3)."""
    if not RESIDENT_ID_RE.match(number) or number[:2] not in provinces:
        return False
    born = birth_date(number)
    if born is None or born > today or born.year < 1900:
        return False
    return check_char(number[:17]) == number[17]


def looks_like_hmt_resident_id(number: str, today: date) -> bool:
    """A 港澳台居民居住证 number: checksum-valid, address code 810000/820000/830000."""
    return number[:2] in HMT_PREFIXES and number[2:6] == "0000" and resident_id_ok(
        number, today, frozenset(HMT_PREFIXES))


def _icao_check(text: str) -> str:
    weights = (7, 3, 1)
    total = 0
    for i, ch in enumerate(text):
        value = int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10
        total += value * weights[i % 3]
    return str(total % 10)


@dataclass(frozen=True, slots=True)
class DocumentType:
    """A document of the 港澳台入境人员 entry; its name and format hint are in templates/claim/_documents.txt."""

    code: str
    pattern: re.Pattern[str]
    needs_nationality: bool = False

    def valid(self, number: str, today: date) -> bool:
        if not self.pattern.match(number):
            return False
        if self.code == "hmt_residence":
            return looks_like_hmt_resident_id(number, today)
        if self.code == "foreigner_pr":
            if len(number) == 15:
                return _icao_check(number[:14]) == number[14]
            # 2023 format: 9, then the accepting province (digits 2–3), then the citizen-number layout.
            return number[1:3] in PROVINCES and resident_id_ok(number, today, FOREIGNER_PREFIXES)
        return True


DOCUMENT_TYPES: tuple[DocumentType, ...] = (
    DocumentType("hk_mo_permit", re.compile(r"^[HM]\d{8}(\d{2})?$", re.ASCII)),
    DocumentType("tw_permit", re.compile(r"^\d{8}(\d{2})?$", re.ASCII)),
    DocumentType("hmt_residence", re.compile(r"^8[123]0000\d{11}[\dX]$", re.ASCII)),
    DocumentType("foreigner_pr", re.compile(r"^([A-Z]{3}\d{12}|9\d{16}[\dX])$", re.ASCII)),
    # letters and at least one digit: every passport number has one, and a name typed here has none
    DocumentType("passport", re.compile(r"^(?=[A-Z]*\d)[A-Z0-9]{5,9}$"), needs_nationality=True),
)
DOCUMENT_BY_CODE = {d.code: d for d in DOCUMENT_TYPES}
DOCUMENT_CODES = tuple(DOCUMENT_BY_CODE)
RESIDENT_ID = "resident_id"

_CJK = "\u3400-\u9fff\U00020000-\U0003134F"
NAME_RE = re.compile(f"^[{_CJK}A-Za-z][{_CJK}A-Za-z·. '-]{{1,39}}$")
PHONE_RE = re.compile(r"^1[3-9]\d{9}$", re.ASCII)
# Hong Kong and Macao (+852, +853: 8 digits) and Taiwan (+886: 9 digits, the leading 0 dropped), as visitors
# through the 港澳台 entry have them; "00" for "+" is accepted and stored as "+".
VISITOR_PHONE_RE = re.compile(r"^\+(85[23]\d{8}|886\d{9})$", re.ASCII)


def visitor_phone(text: str, prefixes: tuple[str, ...] | list[str] = ()) -> str:
    """A +852/+853/+886 number in one spelling ("+85291234567"), or one under another country code in
    `prefixes` (E.164: 8 to 15 digits in all, the trunk 0 after the code dropped); "" when it is not one."""
    number = normalize_number(text).replace("-", "")
    number = "+" + number[2:] if number.startswith("00") else number
    if number.startswith("+8860"):
        number = "+886" + number[5:]
    if VISITOR_PHONE_RE.match(number):
        return number
    for prefix in prefixes:
        if number.startswith(prefix) and not number.startswith(("+852", "+853", "+886", "+86")):
            national = number[len(prefix):].removeprefix("0")
            if national.isdigit() and national.isascii() and 8 <= len(prefix) - 1 + len(national) <= 15:
                return prefix + national
    return ""


_BETWEEN_CJK = re.compile(f"(?<=[{_CJK}])\\s+(?=[{_CJK}])")


def normalize_name(text: str) -> str:
    """One spelling: NFKC, runs of spaces as one, none between Chinese characters (「王 小明」 is 王小明,
    「John Smith」 keeps its space), 「•」 as 「·」."""
    name = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().replace("•", "·")
    return _BETWEEN_CJK.sub("", name)


def name_ok(name: str) -> bool:
    return bool(NAME_RE.match(name))
