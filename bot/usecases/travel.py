"""What the travel card and the health code share: the claimed phone, the card's image, and 二码合一."""

from __future__ import annotations

from bot.domain.clock import travel_stamp
from bot.domain.masking import mask_phone
from bot.domain.render import TravelImage
from bot.engine.context import Context
from bot.upstreams.http import ProviderUnavailable
from bot.upstreams.travel import TravelCard
from bot.wechat.replies import Text


def phone_index(ctx: Context, phone: str) -> str:
    return ctx.services.vault.index("phone", phone)


async def claimed_phone(ctx: Context) -> str:
    profile = await ctx.profile()
    return profile.person.phone if profile else ""


def travel_image(ctx: Context, phone: str, card: TravelCard) -> TravelImage:
    starred = any(risk for _, risk in card.cities)
    updated = travel_stamp(card.updated_at)
    return TravelImage(
        title=ctx.render("cards/travel_title.txt"),
        owner=ctx.render("cards/travel_owner.txt", phone=mask_phone(phone)),
        updated=ctx.render("cards/travel_updated.txt", updated=updated),
        verdict=ctx.render("cards/travel_verdict.txt", colour=card.colour),
        heading=ctx.render("cards/travel_heading.txt"),
        colour=card.colour,
        cities=tuple(f"{name}*" if risk else name for name, risk in card.cities),
        footnote=ctx.render("travel/star_note.txt") if starred else "",
        notice=ctx.render("travel/card_notice.txt"),
    )


async def combined_travel(ctx: Context) -> TravelImage | Text | None:
    """Within the window after 核验行程卡: the travel card to show beside the health code, without a new SMS.
    After it: the words asking to verify again (shown on the health code). Never verified: None."""
    services = ctx.services
    registry = services.travel.registry
    verified = registry.verified(ctx.openid, await ctx.read_hash(registry.verified_key(ctx.openid)))
    if verified is None:
        return None
    phone, at = verified
    window = services.settings.travel.combined_window_hours * 3600
    if services.clock.time() - at > window:
        return ctx.text("travel/verify_again.txt", hours=services.settings.travel.combined_window_hours)
    if phone != await claimed_phone(ctx):  # verified before this rule, or the claim changed since
        return None
    try:
        card = await services.travel.card(phone, phone_index(ctx, phone))
    except ProviderUnavailable:
        return ctx.text("travel/combined_unavailable.txt")
    return travel_image(ctx, phone, card) if card else None
