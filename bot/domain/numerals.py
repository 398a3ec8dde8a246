"""Numbers as WeChat and citizens send them: the ASCII digits 0-9 only.

str.isdigit() and re's \\d also take superscripts, Ethiopic and Arabic-Indic digits. int() refuses some of
those, and the rest would give one phone or document number a second spelling, with its own HMAC index and
its own SMS limits."""

from __future__ import annotations


def is_number(text: str) -> bool:
    """One or more of 0-9 and nothing else."""
    return text.isascii() and text.isdigit()
