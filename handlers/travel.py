"""行程码 (通信大数据行程卡): phone, consent, SMS code, then the card; and 核验行程卡 for 二码合一."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain.documents import PHONE_RE, normalize_number
from bot.domain.masking import mask_phone
from bot.engine.context import Context
from bot.engine.dialogs import Dialog, Invalid, Step
from bot.engine.filters import Claimed
from bot.engine.router import Router
from bot.upstreams.http import ProviderUnavailable
from bot.usecases.answers import expect_word
from bot.usecases.cards import code_image
from bot.usecases.sms import code_step, sms_view
from bot.usecases.travel import claimed_phone, phone_index, travel_image
from bot.wechat.replies import Image, Reply
from storage.profiles import Profile

router = Router("travel")






async def travel_phone(text: str, ctx: Context) -> str:
    answer = normalize_number(text)
    own = await claimed_phone(ctx)
    if answer == "1" and own:
        answer = own
    if not PHONE_RE.match(answer):
        raise Invalid("travel/mainland_only.txt" if own and answer == own else "claim/bad_phone.txt", hmt=False)
    if ctx.state.data.get("combined") and answer != own:
        # 二码合一 shows the travel card of the phone the citizen claimed with, never another one's.
        raise Invalid("travel/combined_own_phone.txt", own_phone=mask_phone(own))
    return answer


def travel_view(ctx: Context, data: Mapping[str, Any]) -> Mapping[str, Any]:
    return {**sms_view(data), "own_phone": mask_phone(data.get("own_phone", "")),
            "combined": bool(data.get("combined"))}


async def complete_travel(ctx: Context, data: dict[str, Any]) -> Reply:
    services, phone = ctx.services, data["phone"]
    try:
        card = await services.travel.card(phone, phone_index(ctx, phone))
    except ProviderUnavailable:
        return ctx.text("travel/unavailable.txt")
    if card is None:
        return ctx.text("travel/no_data.txt")
    if phone == await claimed_phone(ctx):  # only the claimed phone's card is ever shown beside the code
        ctx.wrote(services.travel.registry.verified_key(ctx.openid))
        await services.travel.registry.mark_verified(ctx.openid, phone, services.clock.time())
    if data.get("combined"):
        profile = await ctx.profile()
        if profile is not None:
            return await code_image(ctx, profile.person_of, profile.doc_index,
                                    travel=travel_image(ctx, phone, card))
    png = await services.renderer.render_travel(travel_image(ctx, phone, card))
    return Image(png=png, fallback=ctx.render("travel/image_failed.txt"))




def needs_code(ctx: Context, data: Mapping[str, Any]) -> bool:
    """No code for the claimed phone while the claim's own code proves it (proven_lately)."""
    return not (data.get("proven") and data.get("phone") == data.get("own_phone"))


travel = router.dialog(Dialog(
    name="travel_card",
    restart_keyword="行程码",
    steps=(
        Step("phone", "travel/ask_phone.txt", travel_phone),
        Step("consent", "travel/consent.txt", expect_word("同意并授权", "travel/need_consent.txt")),
        code_step(travel_view, "travel/sms.txt", when=needs_code),
    ),
    on_complete=complete_travel,
    view=travel_view,
))


@router.keywords("行程码", "行程卡", "通信大数据行程卡", "通信行程卡", "travel card")
@router.click("TRAVEL_CARD")
async def start_travel(ctx: Context) -> Reply:
    return await travel.start(ctx, {"own_phone": await claimed_phone(ctx),
                                    "proven": proven_lately(ctx, await ctx.profile())})


@router.keywords("核验行程卡", "二码合一", "双码", "verify travel card", "both codes", when=Claimed("travel"))
async def verify_for_combined(ctx: Context) -> Reply:
    return await travel.start(ctx, {"own_phone": await claimed_phone(ctx), "combined": True,
                                    "proven": proven_lately(ctx, ctx.claimed)})


def proven_lately(ctx: Context, profile: Profile | None) -> bool:
    """「减少了用户多次接收行程卡验证码的麻烦」: the claim proved its phone with a code within the 二码合一 window, so
    that phone's travel card needs no second code."""
    proven = profile.phone_proven_at if profile else 0
    window = ctx.services.travel.combined_window_hours * 3600
    return bool(proven) and ctx.services.clock.time() - proven <= window



