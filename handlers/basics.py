"""Following, help, and a sensible answer to every message and event type."""

from __future__ import annotations

from bot.engine.context import Context
from bot.engine.router import Router
from bot.wechat.replies import Reply
from handlers.faq import TOPICS, topic_of
from handlers.preferences import follow_wechat_language

router = Router("basics", interrupts=False)  # help and greetings answer; they are not services

SILENT_EVENTS = ("location", "view", "templatesendjobfinish", "pic_sysphoto", "pic_photo_or_album",
                 "pic_weixin", "view_miniprogram", "masssendjobfinish")


@router.event("subscribe")
async def welcome(ctx: Context) -> Reply:
    await follow_wechat_language(ctx)
    return ctx.text("welcome.txt", scene=ctx.message.event_key)


@router.event("scan")
async def welcome_back(ctx: Context) -> Reply:
    return ctx.text("welcome_back.txt")


@router.event("unsubscribe")
async def forget_dialog(ctx: Context) -> Reply:
    """WeChat asks us to drop a user's data when they unfollow; the reply is never shown."""
    ctx.state.clear()
    ctx.state.expired = ""
    return None


@router.keywords("帮助", "help", "?", "菜单", "你好", "您好", "hi", "hello", "服务", "menu", "start", glance=True)
@router.click("EPIDEMIC", glance=True)
async def help_text(ctx: Context) -> Reply:
    return ctx.text("help.txt")


@router.keywords("取消", "退出", "cancel", "quit")
async def nothing_to_cancel(ctx: Context) -> Reply:
    """Inside a dialog these words cancel it (the dialog sees them first); outside, say there is nothing."""
    return ctx.text("dialog/nothing_to_cancel.txt")


@router.message("image", "voice", "video", "shortvideo", "link")
async def media_not_understood(ctx: Context) -> Reply:
    return ctx.text("unsupported_media.txt", kind=ctx.message.msg_type)


@router.message("location")
@router.event("location_select")
async def location_received(ctx: Context) -> Reply:
    return ctx.text("location.txt")


@router.event("scancode_push", "scancode_waitmsg")
async def scanned(ctx: Context) -> Reply:
    return ctx.text("scanned.txt")


@router.event(*SILENT_EVENTS)
async def nothing_to_say(ctx: Context) -> Reply:
    return None


async def fallback(ctx: Context) -> Reply:
    """Unrecognised text is quoted back with the help text; unknown events pass silently."""
    if ctx.message.is_event and ctx.message.event != "click":
        return None
    said = ctx.message.content[:60] if ctx.message.msg_type == "text" else ""
    if said and (topic := topic_of(said)) is not None:  # a question in one's own words
        return ctx.text(topic.template, topics=TOPICS)
    return ctx.text("fallback.txt", said=said, topics=TOPICS, spoken=ctx.message.spoken)
