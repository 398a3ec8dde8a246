"""赋码记录 and 申诉: a code's history of colours, and an appeal against its colour, for oneself or relative N.

申诉 after one's code moved to another account is the takeover's appeal (handlers/health_code.py's texts);
otherwise it opens the appeal dialog: a reason by number, an explanation (≤ 200 characters), an optional image,
confirmation, then a ticket. 申诉进度 shows the account's tickets (docs/colours.md).
"""

from __future__ import annotations

from typing import Any

from bot.domain.clock import to_minute
from bot.domain.masking import mask_name
from bot.domain.numerals import small_number
from bot.engine.context import Context
from bot.engine.dialogs import Dialog, Invalid, Step
from bot.engine.filters import Claimed
from bot.engine.router import Router
from bot.features.status import reason_templates
from bot.usecases.answers import expect_word, is_word
from bot.usecases.appeals import EXPLANATION_LIMIT, REASONS, Refused, Subject, may_open, open_appeal
from bot.usecases.cards import current_status
from bot.usecases.holders import relative_person
from bot.usecases.relatives import ABOUT_A_RELATIVE, for_relative
from bot.wechat.replies import Reply, Text
from storage.audit import pseudonym
from storage.profiles import Profile, moved_of
from storage.relatives import Relative

router = Router("colours")

SHOWN_CHANGES = 10
SKIP = "跳过"


# -- 赋码记录 ---------------------------------------------------------------------------------------------

async def history_text(ctx: Context, doc_index: str, whose: str) -> Reply:
    services = ctx.services
    changes = await services.status.registry.history(doc_index, services.clock.time(), SHOWN_CHANGES)
    rows = [{"at": to_minute(c.at), "old": c.old, "new": c.new, "channel": c.channel, "ticket": c.ticket,
             "label": ctx.render(reason_templates(c.code)[0]) if c.code else ""} for c in changes]
    return ctx.text("colours/history.txt", rows=rows, whose=whose,
                    days=services.settings.colours.history_days)


@router.keywords("赋码记录", "码色记录", "健康码记录", "colour history", "color history", when=Claimed("colours"))
@router.click("COLOUR_HISTORY", when=Claimed("colours"))
async def own_history(ctx: Context) -> Reply:
    return await history_text(ctx, ctx.claimed.doc_index, "")


@router.regex(r"(赋码记录|码色记录|colou?r history)\s*(?P<n>\d{1,2})", when=ABOUT_A_RELATIVE)
@for_relative("赋码记录")
async def relative_history(ctx: Context, profile: Profile, relative: Relative) -> Reply:
    return await history_text(ctx, relative.index, mask_name(relative.name))


# -- 申诉 ---------------------------------------------------------------------------------------------------

def reason_number(text: str, ctx: Context) -> int:
    number = small_number(text, 2)
    if number is None or not 1 <= number <= len(REASONS):
        raise Invalid("appeals/bad_reason.txt", reasons=REASONS)
    return number


def explanation(text: str, ctx: Context) -> str:
    text = " ".join(text.split())
    if len(text) > EXPLANATION_LIMIT:
        raise Invalid("appeals/too_long.txt", length=len(text), limit=EXPLANATION_LIMIT)
    if len(text) < 2:
        raise Invalid("appeals/too_short.txt", limit=EXPLANATION_LIMIT)
    return text


def evidence(text: str, ctx: Context) -> str:
    """An image message's media reference, or "" for 跳过."""
    if ctx.message.msg_type == "image":
        if not ctx.message.media_id:
            raise Invalid("appeals/image_unreadable.txt")
        return ctx.message.media_id
    if is_word(ctx.message.normalized, SKIP):
        return ""
    raise Invalid("appeals/need_image.txt")


def appeal_view(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    return {"whose": data.get("whose", ""), "colour": data.get("colour", ""), "reasons": REASONS,
            "reason": data.get("reason", 0), "text": data.get("text", ""), "image": bool(data.get("image")),
            "limit": EXPLANATION_LIMIT}


async def complete_appeal(ctx: Context, data: dict[str, Any]) -> Reply:
    subject = await subject_of(ctx, data["doc_index"], int(data.get("number", 0)))
    if subject is None:  # unbound or deregistered since the dialog began
        return ctx.text("appeals/subject_gone.txt")
    try:
        appeal = await open_appeal(ctx.services, ctx.openid, subject, data["colour"], data["reason"], data["text"],
                                   data.get("image", ""))
    except Refused as refusal:
        return ctx.text(refusal.template, **refusal.values)
    return ctx.text("appeals/opened.txt", ticket=appeal.ticket, due=to_minute(appeal.due_at),
                    days=ctx.services.settings.appeals.reply_days, whose=data.get("whose", ""))


appealing = router.dialog(Dialog(
    name="appeal",
    restart_keyword="申诉",
    steps=(
        Step("reason", "appeals/ask_reason.txt", reason_number),
        Step("text", "appeals/ask_text.txt", explanation),
        Step("image", "appeals/ask_image.txt", evidence, accepts=frozenset({"text", "image"})),
        Step("confirm", "appeals/summary.txt", expect_word("确认提交", "appeals/need_confirm.txt")),
    ),
    on_complete=complete_appeal,
    view=appeal_view,
))


async def subject_of(ctx: Context, doc_index: str, number: int) -> Subject | None:
    """The person an appeal is about, as this account holds them now: its own code, or relative `number`."""
    profile = await ctx.profile()
    if profile is None:
        return None
    if not number:
        person = profile.person
        return Subject(doc_index, person.name, person.doc_type, person.doc_number) \
            if profile.doc_index == doc_index else None
    relative = next((r for r in await ctx.services.relatives.list(ctx.openid)
                     if r.number == number and r.index == doc_index), None)
    if relative is None:
        return None
    return Subject(doc_index, relative.name, "resident_id", relative.doc_number, relative.relationship, number)


async def start_appeal(ctx: Context, doc_index: str, colour: str, whose: str, number: int) -> Reply:
    if colour == "green":
        return ctx.text("appeals/green.txt", whose=whose)
    try:
        await may_open(ctx.services, doc_index)
    except Refused as refusal:
        return ctx.text(refusal.template, **refusal.values)
    return await appealing.start(ctx, {"doc_index": doc_index, "colour": colour, "whose": whose, "number": number})


@router.keywords("申诉", "码色申诉", "我要申诉", "appeal")
async def appeal_own(ctx: Context) -> Reply:
    moved = moved_of(ctx.prefetched_profile)
    services = ctx.services
    if moved is not None:  # the code moved to another account: that is what is contested
        await services.audit.append("appeal", pseudonym(services.vault, ctx.openid), moved.doc_index,
                                    repr(services.clock.time()))
        return ctx.text("claim/appeal_takeover.txt")
    profile = await ctx.profile()
    if profile is None:
        return ctx.text("claim_first.txt", purpose="colours")
    status = await current_status(ctx, profile.person_of, profile.doc_index)
    if isinstance(status, Text):
        return status
    return await start_appeal(ctx, profile.doc_index, status.colour, "", 0)


@router.regex(r"(申诉|码色申诉|appeal)\s*(?P<n>\d{1,2})", when=ABOUT_A_RELATIVE)
@for_relative("申诉")
async def appeal_relative(ctx: Context, profile: Profile, relative: Relative) -> Reply:
    whose = mask_name(relative.name)
    status = await current_status(ctx, lambda: relative_person(relative), relative.index, whose)
    if isinstance(status, Text):
        return status
    return await start_appeal(ctx, relative.index, status.colour, whose, relative.number)


@router.regex(r"(?:申诉进度|appeal status)\s*(?P<ticket>[A-Za-z]{2}-\d{8}-\d{4,6})?")
async def appeal_progress(ctx: Context) -> Reply:
    services = ctx.services
    asked = (ctx.match.group("ticket") or "").upper() if ctx.match else ""
    mine = await services.appeals.tickets(services.clock.time(), openid=ctx.openid)
    if asked and asked not in mine:
        return ctx.text("appeals/not_yours.txt", ticket=asked)
    rows = []
    for ticket in [asked] if asked else mine[-5:]:
        appeal = await services.appeals.get(ticket)
        if appeal is not None:
            rows.append({"ticket": ticket, "state": appeal.state, "opened": to_minute(appeal.opened_at),
                         "due": to_minute(appeal.due_at), "note": appeal.note,
                         "whose": mask_name(appeal.name) if appeal.number else ""})
    return ctx.text("appeals/progress.txt", rows=rows)
