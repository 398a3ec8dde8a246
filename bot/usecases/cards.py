"""The code image for a person, shared by one's own code and a relative's (亲属码)."""

from __future__ import annotations

import secrets

from bot.domain.clock import local, to_second
from bot.domain.masking import mask_id_document, mask_name
from bot.domain.render import CodeCard, TravelImage
from bot.engine.context import Context
from bot.engine.services import Services
from bot.features.status import reason_templates
from bot.ops.templates import Templates
from bot.upstreams.http import ProviderUnavailable
from bot.upstreams.status import HealthStatus
from bot.usecases.facts import code_facts
from bot.usecases.travel import combined_travel
from bot.wechat.replies import Image, News, Reply, Text
from storage.codes import CODE, COMBINED, CachedImage
from storage.profiles import Person, PersonOf, Profile
from storage.relatives import Relative

GUIDANCE = {"green": "code/guidance_green.txt", "yellow": "code/guidance_yellow.txt", "red": "code/guidance_red.txt"}


def proxy_line(texts: Templates, profile: Profile | None, relative: Relative) -> str:
    """「父亲 · 由 张*三 代领」: what tells a relative's code from a personal one."""
    guardian = mask_name(profile.person.name) if profile else ""
    return texts.render("cards/proxy_line.txt", relationship=relative.relationship, guardian=guardian)


async def current_status(ctx: Context, person: PersonOf, doc_index: str, whose: str = "") -> HealthStatus | Text:
    """The colour now, or the plain words that it cannot be confirmed; never a guess."""
    try:
        return await ctx.services.status.status(person, doc_index, ctx.read_hash)
    except ProviderUnavailable:
        return ctx.text("code/status_unavailable.txt", whose=whose)


async def code_image(ctx: Context, person: PersonOf, doc_index: str, *, subject: str = "self",
                     title: str = "", subtitle: str = "", fresh: bool = False,
                     travel: TravelImage | None = None, notice: str = "", stamp: str = "", whose: str = "",
                     elder: bool = False) -> Reply:
    """Re-sent from a short cache while what it shows is unchanged, so WeChat's upload quota lasts.

    With `travel`, the page is 二码合一: this code above the travel card. `notice` is added to the guidance.
    With `[render] reply_as = "news"`, the reply is a news article whose picture and page healthbot serves.
    `elder`: the 长辈模式 card (one's own code is, when the user's 长辈模式 is on).
    """
    services = ctx.services
    title = title or ctx.render("cards/code_title.txt")
    status = await current_status(ctx, person, doc_index, whose)
    if isinstance(status, Text):
        return status
    if services.settings.render.reply_as == "news" and travel is None:
        return await news_reply(ctx, doc_index, " · ".join(filter(None, [stamp, title])), status.colour)
    facts = await code_facts(services, ctx.templates, person, doc_index, ctx.openid if subject == "self" else "",
                             ctx.read_hash)
    elder = elder or (subject == "self" and ctx.prefs.elder)
    shown = "|".join([ctx.lang, str(ctx.prefs.elder), str(elder), status.colour, status.code, repr(status.until),
                      notice, stamp, travel.colour if travel else "",
                      *(travel.cities if travel else ()), *facts])
    cache_subject = f"{subject}:combined" if travel is not None else subject
    cache_key = services.codes.images.key(ctx.openid, cache_subject)
    now, keep_for = services.clock.time(), services.settings.render.image_cache_seconds
    if not fresh:
        cached = services.codes.images.decode(await ctx.read_hash(cache_key))
        # Judged by the service clock too: an image is re-sent only while its QR still resolves.
        if cached is not None and cached.shown == shown and now - cached.at < keep_for:
            return Image(media_id=cached.media_id)
    card = await build_card(services, ctx.templates, ctx.openid, person(), doc_index, status, title=title,
                            subtitle=subtitle, notice=notice, kind=COMBINED if travel else CODE, stamp=stamp,
                            whose=whose, facts=facts, elder=elder)
    png = await (services.renderer.render_combined(card, travel) if travel else services.renderer.render(card))
    reply = await services.upload_image(png, ctx.render("code/image_fallback.txt", colour=status.colour,
                                                        name=card.name, whose=whose))
    if isinstance(reply, Image):
        ctx.wrote(cache_key)
        for write in services.codes.images.keep_writes(ctx.openid, cache_subject,
                                                       CachedImage(shown, reply.media_id, now), keep_for):
            ctx.with_turn(write)
    return reply


def reason_line(texts: Templates, status: HealthStatus) -> str:
    """Why a code is not green, for its holder and guardians only: the reason's label, what clears it, and the
    day it is expected to turn green where one is known. Never on the guard's page."""
    if status.colour == "green" or not status.code:
        return ""
    label, clears = (texts.render(name) for name in reason_templates(status.code))
    until = local(status.until) if status.until else None
    return texts.render("code/reason.txt", label=label, clears=clears,
                        month=until.month if until else 0, day=until.day if until else 0)


async def build_card(services: Services, texts: Templates, openid: str, person: Person, doc_index: str,
                     status: HealthStatus, *, title: str, subtitle: str = "", notice: str = "", kind: str = CODE,
                     stamp: str = "", whose: str = "", facts: tuple[str, ...] = (), elder: bool = False) -> CodeCard:
    """Every text in `texts` (the viewer's language). `whose`: a relative's masked name, which every text on the
    card uses instead of 「您」. `facts`: 四码一屏's lines (bot.usecases.facts.code_facts). `elder`: 长辈模式's
    layout (colour word, QR, name and time, nothing else)."""
    colour = status.colour
    return CodeCard(
        title=title,
        status_word=texts.render("cards/status_word.txt", colour=colour),
        subtitle=subtitle,
        colour=colour,
        name=mask_name(person.name),
        document=mask_id_document(person.doc_type, person.doc_number),
        generated=to_second(services.clock.time()),
        guidance=" ".join(filter(None, [texts.render(GUIDANCE[colour], whose=whose), notice])),
        facts=facts,
        reason=reason_line(texts, status),
        qr_payload=await scan_url(services, openid, doc_index, kind),
        stamp=stamp,
        elder=elder,
    )


async def scan_url(services: Services, openid: str, doc_index: str, kind: str = CODE) -> str:
    """What the QR holds: the guard's page for a fresh random token, which only the server maps to the holder
    (docs/domain.md §5.4). Every image gets its own; each resolves for `[render] qr_token_ttl`."""
    token = await services.codes.tokens.issue(openid, doc_index, kind, services.clock.time())
    return f"{services.settings.public_url}/c/{token}"


VIEW = "view"


async def news_reply(ctx: Context, doc_index: str, title: str, colour: str) -> News:
    """For scale beyond WeChat's media quota: no upload. The picture and the live page are served by
    healthbot through a signed, expiring link, and the colour is checked again whenever they are opened."""
    services = ctx.services
    ttl = services.settings.render.view_link_minutes * 60
    token = await live_link(services, ctx.openid, doc_index, title, ttl)
    base = services.settings.public_url
    return News(title=ctx.render("cards/news_title.txt", title=title, colour=colour),
                description=ctx.render("code/news_description.txt", minutes=ttl // 60),
                pic_url=f"{base}/img?t={token}", url=f"{base}/code?t={token}")


async def live_link(services: Services, openid: str, doc_index: str, title: str, seconds: int) -> str:
    """The signed token of a live code page (/code?t=…, its picture /img?t=…) that opens for `seconds` and
    reads the colour again whenever it is opened."""
    nonce = secrets.token_urlsafe(12)
    await services.codes.views.create(nonce, openid, doc_index, title, seconds)
    return services.signer.sign(VIEW, {"n": nonce, "exp": int(services.clock.time()) + seconds})


async def code_reply(ctx: Context, profile: Profile, fresh: bool = False) -> Reply:
    """The health code; 二码合一 within the window after 核验行程卡, and a reminder once it has passed."""
    travel = await combined_travel(ctx)
    if isinstance(travel, Text):
        return await code_image(ctx, profile.person_of, profile.doc_index, fresh=fresh, notice=travel.content)
    return await code_image(ctx, profile.person_of, profile.doc_index, fresh=fresh, travel=travel)
