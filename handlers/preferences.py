"""The user's own settings: the language (English / 中文) and 长辈模式, for oneself or on a relative's codes."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from bot.domain.masking import mask_name
from bot.engine.context import Context
from bot.engine.router import Router
from bot.ops.logs import hash_openid
from bot.ops.templates import language_of
from bot.usecases.relatives import ABOUT_A_RELATIVE, for_relative
from bot.wechat.api import WeChatAPIError
from bot.wechat.replies import Reply
from storage.profiles import Profile
from storage.relatives import Relative

router = Router("preferences")
# The language and 长辈模式 keywords answer inside a dialog too, which then asks its step again in the new words.
settings = Router("settings", keeps_dialog=True)
log = logging.getLogger("healthbot.preferences")

LANGUAGE_WAIT = 1.5  # seconds user/info may take before the welcome goes out in the default language


async def follow_wechat_language(ctx: Context) -> None:
    """A new follower whose WeChat is in English starts in English, when the account may ask (user/info)."""
    if ctx.prefs.stored or not ctx.services.settings.wechat.user_language:
        return  # chosen before (Chinese too): a choice is kept across unfollowing
    try:
        language = await asyncio.wait_for(ctx.services.api.user_language(ctx.openid), LANGUAGE_WAIT)
    except (WeChatAPIError, TimeoutError) as exc:
        log.info("user/info gave no language user=%s: %s", hash_openid(ctx.openid), exc)
        return
    if language_of(language) != ctx.lang:
        ctx.prefer(replace(ctx.prefs, lang=language_of(language)))


@settings.keywords("English", "EN", "英文", "英语")
@router.click("LANG_EN")
async def english(ctx: Context) -> Reply:
    ctx.prefer(replace(ctx.prefs, lang="en"))
    return ctx.text("preferences/language.txt")


@settings.keywords("中文", "ZH", "Chinese", "简体中文")
@router.click("LANG_ZH")
async def chinese(ctx: Context) -> Reply:
    ctx.prefer(replace(ctx.prefs, lang="zh"))
    return ctx.text("preferences/language.txt")


@settings.keywords("长辈模式", "开启长辈模式", "elder mode", "large text")
@router.click("ELDER_ON")
async def elder_on(ctx: Context) -> Reply:
    ctx.prefer(replace(ctx.prefs, elder=True))
    return ctx.text("preferences/elder_on.txt")


@settings.keywords("关闭长辈模式", "退出长辈模式", "标准模式", "elder mode off", "standard mode")
@router.click("ELDER_OFF")
async def elder_off(ctx: Context) -> Reply:
    ctx.prefer(replace(ctx.prefs, elder=False))
    return ctx.text("preferences/elder_off.txt")


@router.regex(r"(为亲属开启长辈模式|elder mode for relative)\s*(?P<n>\d{1,2})?", when=ABOUT_A_RELATIVE)
@for_relative("为亲属开启长辈模式")
async def elder_for_relative(ctx: Context, profile: Profile, relative: Relative) -> Reply:
    ctx.prefer(ctx.prefs.with_relative(relative.index, True))
    return ctx.text("preferences/elder_relative_on.txt", name=mask_name(relative.name), n=relative.number)


@router.regex(r"(为亲属关闭长辈模式|elder mode off for relative)\s*(?P<n>\d{1,2})?", when=ABOUT_A_RELATIVE)
@for_relative("为亲属关闭长辈模式")
async def elder_off_for_relative(ctx: Context, profile: Profile, relative: Relative) -> Reply:
    ctx.prefer(ctx.prefs.with_relative(relative.index, False))
    return ctx.text("preferences/elder_relative_off.txt", name=mask_name(relative.name), n=relative.number)

