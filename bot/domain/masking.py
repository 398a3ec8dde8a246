"""Masks for the screen, per Unicode code point (docs/domain.md §3)."""

from __future__ import annotations

from bot.domain.documents import RESIDENT_ID

COMPOUND_SURNAMES = frozenset(
    (
        "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 令狐 慕容 宇文 长孙 司徒 夏侯 轩辕 端木 西门 "
        "南宫 独孤 呼延 太史 申屠 闻人 澹台 公冶 宗政 濮阳 淳于 单于 赫连 钟离 拓跋 百里 东郭 "
        "万俟 司空 第五"
    ).split()
)


def _latin(name: str) -> bool:
    return name.isascii() and any(ch.isalpha() for ch in name)


def _mask_word(word: str) -> str:
    """A Latin-script word: first and last letter, stars between; 2 letters keep the first, 1 is kept."""
    if len(word) <= 2:
        return word[0] + "*" * (len(word) - 1)
    return word[0] + "*" * (len(word) - 2) + word[-1]


NAME_DOT = "·"  # what normalize_name makes of 「•」 and the like (阿依古丽·买买提, 约翰·史密斯)


def mask_name(name: str) -> str:
    """docs/domain.md §3. A Latin-script name is masked word by word (「J**n S***h」), so a guard can compare
    its shape with a passport; a name with the middle dot part by part, the dot kept (「阿**丽·买*提」); a
    Chinese name per character."""
    if _latin(name):
        return " ".join(_mask_word(word) for word in name.split())
    if NAME_DOT in name:
        return NAME_DOT.join(_mask_word(part) if part else part for part in name.split(NAME_DOT))
    chars = list(name)
    n = len(chars)
    if n <= 1:
        return "*" * n
    surname = 2 if "".join(chars[:2]) in COMPOUND_SURNAMES and n >= 3 else 1
    if n == 2:
        return chars[0] + "*"
    if n == 3:
        return "".join(chars[:surname]) + "*" + ("" if surname == 2 else chars[-1])
    return "".join(chars[:surname]) + "*" * (n - surname - 1) + chars[-1]


def mask_phone(phone: str) -> str:
    """138****1234; a +852/+853/+886 number keeps its country code and last 3 digits: +852 *****567."""
    if phone.startswith("+"):
        return f"{phone[:4]} {'*' * (len(phone) - 7)}{phone[-3:]}"
    return phone[:3] + "****" + phone[-4:] if len(phone) == 11 else mask_document(phone)


def mask_resident_id(number: str) -> str:
    return number[:3] + "*" * (len(number) - 7) + number[-4:] if len(number) == 18 else mask_document(number)


def mask_id_document(doc_type: str, number: str) -> str:
    """A document number masked by its kind: the resident ID's rule for a resident ID, the other rule else."""
    return mask_resident_id(number) if doc_type == RESIDENT_ID else mask_document(number)


def mask_document(number: str) -> str:
    if len(number) <= 4:
        return "*" * len(number)
    return number[:2] + "*" * (len(number) - 4) + number[-2:]
