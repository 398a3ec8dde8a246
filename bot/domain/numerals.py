"""Numbers as WeChat and citizens send them: the ASCII digits 0-9 only.

str.isdigit() and re's \\d also take superscripts, Ethiopic and Arabic-Indic digits. int() refuses some of
those, and the rest would give one phone or document number a second spelling, with its own HMAC index and
its own SMS limits."""

from __future__ import annotations


def is_number(text: str) -> bool:
    """One or more of 0-9 and nothing else."""
    return text.isascii() and text.isdigit()


def small_number(text: str, digits: int) -> int | None:
    """The value of 1 to `digits` ASCII digits, else None. Bounding the length first matters: int() of a
    5,000-digit string raises (Python's limit on converting long decimals), and a client chooses the length."""
    return int(text) if 0 < len(text) <= digits and is_number(text) else None
