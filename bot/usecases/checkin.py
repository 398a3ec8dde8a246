"""Recording an entry at a venue (扫码登记) and the code image the guard then looks at, stamped with the venue
and the time. Shared by the venue scan itself and by a claim that a scan started."""

from __future__ import annotations

from bot.domain.clock import day_minute
from bot.engine.context import Context
from bot.usecases.cards import code_image
from bot.usecases.holders import relative_person
from bot.usecases.relatives import numbered, relative_code
from bot.wechat.replies import Reply
from storage.profiles import Profile
from storage.relatives import Relative
from storage.venues import Venue

PENDING_SECONDS = 1800  # a scan by someone without a code waits this long for their claim to finish
RELATIVES_SECONDS = 600  # after a check-in, 「为亲属登记」 registers relatives at the same venue this long


def remember_pending(ctx: Context, venue: Venue) -> None:
    """The scan waits for the claim it starts: the claim's end checks in at this venue."""
    ctx.with_turn(ctx.services.venues.last_venue_write(ctx.openid, "pending", venue.scene, PENDING_SECONDS))


async def last_venue(ctx: Context, state: str) -> Venue | None:
    """The venue this user scanned last, if it is still in `state` ("pending" or "in") and active."""
    stored = await ctx.services.venues.last_venue(ctx.openid)
    if stored is None:
        return None
    kind, scene = stored
    venue = await ctx.services.venues.get(scene) if kind == state else None
    return venue if venue is not None and venue.active else None


async def check_in(ctx: Context, profile: Profile, venue: Venue, relative: Relative | None = None) -> Reply:
    """Record the entry of the user (or of one of their relatives) and reply with the stamped code."""
    services = ctx.services
    now = services.clock.time()
    if relative is None:
        doc_index, entry = profile.doc_index, services.venues.holder_entry(ctx.openid, profile.sealed)
    else:
        person = relative_person(relative)
        doc_index, entry = relative.index, services.venues.sealed_entry(venue.scene, {
            "o": ctx.openid, "n": person.name, "t": person.doc_type, "d": person.doc_number,
            "p": profile.person.phone, "r": relative.relationship})
    await ctx.write_with_turn(services.venues.entry_writes(venue.scene, doc_index, entry, now))
    ctx.with_turn(services.venues.last_venue_write(ctx.openid, "in", venue.scene, RELATIVES_SECONDS))
    services.metrics.inc("healthbot_venue_entries_total", whose="relative" if relative else "self")
    stamp = ctx.render("venues/stamp.txt", venue=venue.name, time=day_minute(now))
    if relative is None:
        return await code_image(ctx, profile.person_of, doc_index, stamp=stamp)
    return await relative_code(ctx, profile, relative, stamp=stamp)


async def offer_relatives(ctx: Context, venue: Venue) -> None:
    """After a check-in, one tap registers a relative who came along (a link that sends 「为亲属登记 N」)."""
    if not await ctx.read_hash(ctx.services.relatives.key(ctx.openid)):  # most people scan alone: no second read
        return
    relatives = await ctx.services.relatives.list(ctx.openid)
    if relatives:
        ctx.follow_up(ctx.text("venues/offer_relatives.txt", venue=venue.name, relatives=numbered(relatives)))

