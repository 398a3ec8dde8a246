"""Validators shared by several dialogs: each returns the clean answer or raises Invalid."""

from __future__ import annotations

from collections.abc import Callable

from bot.domain.documents import name_ok, normalize_name
from bot.engine.context import Context
from bot.engine.dialogs import BACK_WORDS, CANCEL_WORDS, Invalid
from bot.wechat.inbound import normalize_text

# Words that answer a step, and so are never a name: each expect_word's, the dialogs' own (取消, 返回) and the
# steps' commands.
STEP_COMMANDS = ("帮助", "重新发送", "重新认证", "重新申领", "申诉")
STEP_WORDS = {*CANCEL_WORDS, *BACK_WORDS, *map(normalize_text, STEP_COMMANDS)}


def expect_word(word: str, template: str) -> Callable[[str, Context], bool]:
    """The step passes only on this exact word (after normalising), like 「同意」 or 「确认绑定」."""
    expected = normalize_text(word)
    STEP_WORDS.add(expected)

    def validate(text: str, ctx: Context) -> bool:
        if normalize_text(text) != expected:
            raise Invalid(template)
        return True

    return validate


def person_name(text: str, ctx: Context) -> str:
    """A name; a step's word typed one step late (「确认」, 「同意协议并认证」) is not one."""
    name = normalize_name(text)
    if not name_ok(name) or normalize_text(name) in STEP_WORDS:
        raise Invalid("claim/bad_name.txt")
    return name
