"""The code image for a person, shared by one's own code and a relative's (亲属码)."""

from __future__ import annotations

import secrets

from bot.domain.clock import to_second
from bot.domain.documents import RESIDENT_ID
from bot.domain.masking import mask_document, mask_name, mask_resident_id
from bot.domain.render import CodeCard, TravelImage
from bot.engine.context import Context
from bot.engine.services import Services
from bot.upstreams.http import ProviderUnavailable
from bot.upstreams.status import HealthStatus
from bot.wechat.replies import Image, News, Reply, Text
from storage.profiles import Person

GUIDANCE = {"green": "code/guidance_green.txt", "yellow": "code/guidance_yellow.txt", "red": "code/guidance_red.txt"}


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
                     title: str = "", subtitle: str = "", fresh: bool = False,
                     travel: TravelImage | None = None, notice: str = "") -> Reply:
    """Re-sent from a short cache while what it shows is unchanged, so WeChat's upload quota lasts.

    With `travel`, the page is 二码合一: this code above the travel card. `notice` is added to the guidance.
    With `[render] reply_as = "news"`, the reply is a news article whose picture and page healthbot serves.
    """
    services = ctx.services
    title = title or ctx.render("cards/code_title.txt")
    status = await current_status(ctx, person, doc_index)
    if isinstance(status, Text):
        return status
    if services.settings.render.reply_as == "news" and travel is None:
        return await news_reply(ctx, subject, title, status.colour)
    shown = "|".join([status.colour, notice, travel.colour if travel else "", *(travel.cities if travel else ())])
    cache_subject = f"{subject}:combined" if travel is not None else subject
    cache_key = services.keys.image_cache(ctx.openid, cache_subject)
    if not fresh:
        cached = await ctx.read_hash(cache_key)
        if cached.get(b"shown", b"").decode() == shown and cached.get(b"media_id"):
            return Image(media_id=cached[b"media_id"].decode())
    card = await build_card(services, ctx.openid, person, doc_index, status.colour, subject=subject, title=title,
                            subtitle=subtitle, notice=notice)
    png = await (services.renderer.render_combined(card, travel) if travel else services.renderer.render(card))
    reply = await services.upload_image(png, ctx.render("code/image_fallback.txt", colour=status.colour,
                                                        name=card.name))
    if isinstance(reply, Image):
        ctx.wrote(cache_key)
        async with services.redis.pipeline(transaction=False) as pipe:
            pipe.hset(cache_key, mapping={"shown": shown, "media_id": reply.media_id})
            pipe.expire(cache_key, services.settings.render.image_cache_seconds)
            await pipe.execute()
    return reply


async def build_card(services: Services, openid: str, person: Person, doc_index: str, colour: str, *,
                     subject: str = "self", title: str, subtitle: str = "",
                     notice: str = "") -> CodeCard:
    return CodeCard(
        title=title,
        status_word=services.templates.render("cards/status_word.txt", colour=colour),
        subtitle=subtitle,
        colour=colour,
        name=mask_name(person.name),
        document=masked_document(person),
        generated=to_second(services.clock.time()),
        guidance=" ".join(filter(None, [services.templates.render(GUIDANCE[colour]), notice])),
        qr_payload=await qr_payload(services, openid, subject, doc_index),
    )


async def qr_payload(services: Services, openid: str, subject: str, doc_index: str) -> str:
    """A URL ending in an opaque random token that only the server can map back to the holder."""
    keys, ttl = services.keys, services.settings.render.qr_token_ttl
    token = await services.redis.get(keys.user_qr(openid, subject))
    if token is None:
        token = secrets.token_urlsafe(16).encode()
        await services.redis.set(keys.qr_token(token.decode()), doc_index, ex=ttl)
        await services.redis.set(keys.user_qr(openid, subject), token, ex=ttl - 60)
    return f"{services.settings.public_url}/c/{token.decode()}"


VIEW = "view"


async def news_reply(ctx: Context, subject: str, title: str, colour: str) -> News:
    """For scale beyond WeChat's media quota: no upload. The picture and the live page are served by
    healthbot through a signed, expiring link, and the colour is checked again whenever they are opened."""
    services = ctx.services
    ttl = services.settings.render.view_link_minutes * 60
    nonce = secrets.token_urlsafe(12)
    await services.redis.set(services.keys.view(nonce), f"{ctx.openid}\n{subject}\n{title}", ex=ttl)
    token = services.signer.sign(VIEW, {"n": nonce, "exp": int(services.clock.time()) + ttl})
    base = services.settings.public_url
    return News(title=ctx.render("cards/news_title.txt", title=title, colour=colour),
                description=ctx.render("code/news_description.txt", minutes=ttl // 60),
                pic_url=f"{base}/img?t={token}", url=f"{base}/code?t={token}")
