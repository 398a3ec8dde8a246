"""The face-verification step, shared by binding a relative and by a claim that needs it (a takeover, or
`[identity] face_on_claim`): a link on arriving (within the per-user limit that protects the provider),
「重新认证」 for another, and the verifier's result arriving as an internal event that moves the dialog on.
The dialog's view gives the prompts name, face_link and face_limited (face_view)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.engine.context import Context
from bot.engine.dialogs import Condition, Invalid, Step, View
from bot.upstreams.http import ProviderUnavailable
from bot.usecases.answers import is_word
from bot.wechat.inbound import Inbound
from bot.wechat.replies import Reply

FACE_EVENT = "healthbot_face"


async def another_link(ctx: Context) -> bool:
    """A fresh link into the dialog's data, or False past the per-user limit (the link given before stays)."""
    services, per_hour = ctx.services, ctx.services.settings.limits.face_links_per_hour
    if not await services.limiter.allow(services.keys.bucket(ctx.openid, "face"), per_hour, per_hour / 3600,
                                        services.clock.time()):
        ctx.state.data["face_limited"] = True
        return False
    nonce, link = await services.face.link(ctx.openid)
    ctx.state.data.update(face_nonce=nonce, face_link=link, face_limited=False)
    return True


async def new_link(ctx: Context) -> None:
    """The step's `enter`: every path to the step (arriving, 返回 and back, a failed check) is within the limit."""
    await another_link(ctx)


def face_step(view: View, when: Condition) -> Step:
    """The step itself; its answer is True, given by the verifier's callback (`face_result`), never by text."""
    async def pending(text: str, ctx: Context) -> bool:
        if is_word(text, "重新认证"):
            if not await another_link(ctx):
                raise Invalid("face/too_many.txt")
            raise Invalid("face/link.txt", **view(ctx, ctx.state.data))
        raise Invalid("face/pending.txt", **view(ctx, ctx.state.data))

    return Step("face", "face/link.txt", pending, when=when, enter=new_link)


def face_view(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"face_link": data.get("face_link", ""), "face_limited": bool(data.get("face_limited")),
            "takeover": bool(data.get("takeover"))}


def face_event(openid: str, nonce: str, result: str, now: int) -> Inbound:
    return Inbound(openid=openid, account="", create_time=now, msg_type="event", event=FACE_EVENT,
                   event_key=f"{result}:{nonce}", internal=True)


async def face_result(ctx: Context) -> Reply:
    """The verifier's callback as a turn of the user's: a pass answers the dialog's face step, if the user is
    still at the step that minted this nonce; a fail offers a new link."""
    result, _, nonce = ctx.message.event_key.partition(":")
    state = ctx.state
    dialog = ctx.dialogs.get(state.dialog)
    if dialog is None or state.step != "face" or state.data.get("face_nonce") != nonce:
        return ctx.text("face/stale.txt")
    if result != "pass":
        try:
            if not await another_link(ctx):
                return ctx.text("face/too_many.txt")
        except ProviderUnavailable:
            return ctx.text("face/unavailable.txt")
        return ctx.text("face/failed.txt", **dialog.view(ctx, state.data))
    return await dialog.accept(ctx, True)
