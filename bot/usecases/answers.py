"""Validators shared by several dialogs: each returns the clean answer or raises Invalid."""

from __future__ import annotations

from collections.abc import Callable

from bot.domain.documents import name_ok, normalize_name
from bot.engine.context import Context
from bot.engine.dialogs import Invalid
from bot.wechat.inbound import normalize_text


def expect_word(word: str, template: str) -> Callable[[str, Context], bool]:
    """The step passes only on this exact word (after normalising), like 「同意」 or 「确认绑定」."""
    expected = normalize_text(word)

    def validate(text: str, ctx: Context) -> bool:
        if normalize_text(text) != expected:
            raise Invalid(template)
        return True

    return validate


def person_name(text: str, ctx: Context) -> str:
    name = normalize_name(text)
    if not name_ok(name):
        raise Invalid("claim/bad_name.txt")
    return name
