"""The code image for a person, shared by one's own code and a relative's (亲属码)."""

from __future__ import annotations

import secrets

from bot.context import Context
from bot.documents import RESIDENT_ID
from bot.masking import mask_document, mask_name, mask_resident_id
from bot.providers import HealthStatus, ProviderUnavailable
from bot.render import CodeCard, TravelImage
from bot.replies import Image, Reply, Text
from storage.profiles import Person


def masked_document(person: Person) -> str:
    if person.doc_type == RESIDENT_ID:
        return mask_resident_id(person.doc_number)
    return mask_document(person.doc_number)


async def current_status(ctx: Context, person: Person, doc_index: str) -> HealthStatus | Text:
    """The colour now, or the plain words that it cannot be confirmed; never a guess."""
    try:
        return await ctx.services.status.status(person, doc_index)
    except ProviderUnavailable:
        return ctx.text("code/status_unavailable.txt")


async def code_image(ctx: Context, person: Person, doc_index: str, *, subject: str = "self",
                     title: str = "防疫健康信息码", subtitle: str = "", fresh: bool = False,
                     travel: TravelImage | None = None, notice: str = "") -> Reply:
    """Re-sent from a short cache while what it shows is unchanged, so WeChat's upload quota lasts.

    With `travel`, the page is 二码合一: this code above the travel card. `notice` is added to the guidance.
    """
    services = ctx.services
    status = await current_status(ctx, person, doc_index)
    if isinstance(status, Text):
        return status
    shown = "|".join([status.colour, notice, travel.colour if travel else "", *(travel.cities if travel else ())])
    if travel is not None:
        subject = f"{subject}:combined"
    cache_key = services.keys.image_cache(ctx.openid, subject)
    if not fresh:
        cached = await services.redis.hgetall(cache_key)
        if cached.get(b"shown", b"").decode() == shown and cached.get(b"media_id"):
            return Image(media_id=cached[b"media_id"].decode())
    card = CodeCard(
        title=title,
        subtitle=subtitle,
        colour=status.colour,
        name=mask_name(person.name),
        document=masked_document(person),
        generated=ctx.now().strftime("%Y-%m-%d %H:%M:%S"),
        guidance=" ".join(filter(None, [ctx.render(f"code/guidance_{status.colour}.txt"), notice])),
        qr_payload=await qr_payload(ctx, subject.split(":")[0], doc_index),
    )
    png = await (services.renderer.render_combined(card, travel) if travel else services.renderer.render(card))
    reply = await services.upload_image(png, ctx.render("code/image_fallback.txt", colour=status.colour,
                                                        name=card.name))
    if isinstance(reply, Image):
        async with services.redis.pipeline(transaction=False) as pipe:
            pipe.hset(cache_key, mapping={"shown": shown, "media_id": reply.media_id})
            pipe.expire(cache_key, services.settings.render.image_cache_seconds)
            await pipe.execute()
    return reply


async def qr_payload(ctx: Context, subject: str, doc_index: str) -> str:
    """A URL ending in an opaque random token that only the server can map back to the holder."""
    services = ctx.services
    keys, ttl = services.keys, services.settings.render.qr_token_ttl
    token = await services.redis.get(keys.user_qr(ctx.openid, subject))
    if token is None:
        token = secrets.token_urlsafe(16).encode()
        await services.redis.set(keys.qr_token(token.decode()), doc_index, ex=ttl)
        await services.redis.set(keys.user_qr(ctx.openid, subject), token, ex=ttl - 60)
    return f"{services.settings.public_url}/c/{token.decode()}"
