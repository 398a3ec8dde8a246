"""Validators shared by several dialogs: each returns the clean answer or raises Invalid."""

from __future__ import annotations

from collections.abc import Callable

from bot.domain.documents import name_ok, normalize_name
from bot.engine.context import Context
from bot.engine.dialogs import BACK_WORDS, CANCEL_WORDS, Invalid
from bot.wechat.inbound import normalize_text

# Words that answer a step, and so are never a name: each expect_word's, the dialogs' own (取消, 返回) and the
# steps' commands.
# Each step word's English twin, which the English prompts ask for; either is accepted in either language (a
# user who switched mid-dialog, or typed what a relative told them).
ENGLISH_WORDS = {
    "同意": "agree", "确认": "confirm", "确认注销": "deregister", "确认提交": "submit", "确认绑定": "bind",
    "同意协议并认证": "agree and verify", "确认承诺": "i promise", "确认解绑": "unbind", "同意并授权": "authorise",
    "重新发送": "resend", "重新认证": "verify again", "跳过": "skip", "帮助": "help", "重新申领": "claim again",
    "申诉": "appeal",
}
STEP_COMMANDS = ("帮助", "重新发送", "重新认证", "重新申领", "申诉")
STEP_WORDS = {*CANCEL_WORDS, *BACK_WORDS, *map(normalize_text, STEP_COMMANDS),
              *(ENGLISH_WORDS[word] for word in STEP_COMMANDS)}


def is_word(text: str, word: str) -> bool:
    """Whether `text` is the step word `word` (「重新发送」) or its English twin, after normalising."""
    typed = normalize_text(text)
    return typed == normalize_text(word) or typed == ENGLISH_WORDS.get(word)


def expect_word(word: str, template: str) -> Callable[[str, Context], bool]:
    """The step passes only on this exact word (after normalising), like 「同意」 or 「确认绑定」, or its
    English twin (ENGLISH_WORDS)."""
    STEP_WORDS.update({normalize_text(word), ENGLISH_WORDS[word]})

    def validate(text: str, ctx: Context) -> bool:
        if not is_word(text, word):
            raise Invalid(template)
        return True

    return validate


def person_name(text: str, ctx: Context) -> str:
    """A name; a step's word typed one step late (「确认」, 「同意协议并认证」) is not one."""
    name = normalize_name(text)
    if not name_ok(name) or normalize_text(name) in STEP_WORDS:
        raise Invalid("claim/bad_name.txt")
    return name
