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
from storage.venues import LastVenue, Venue

PENDING_SECONDS = 1800  # a scan by someone without a code waits this long for their claim to finish
# After a check-in, the visit is remembered for the venue's stay: 「为亲属登记」 registers relatives in it, a second
# scan is the same visit, and 「离场」 ends it.


def remember_pending(ctx: Context, venue: Venue) -> None:
    """The scan waits for the claim it starts: the claim's end checks in at this venue."""
    ctx.with_turn(ctx.services.venues.last_venue_write(ctx.openid, "pending", venue.scene, PENDING_SECONDS))


async def last_venue(ctx: Context, state: str) -> Venue | None:
    """The venue this user scanned last, if it is still in `state` ("pending" or "in") and active."""
    visit = await current_visit(ctx, state)
    return visit[0] if visit else None


async def current_visit(ctx: Context, state: str = "in") -> tuple[Venue, LastVenue] | None:
    """The venue this user scanned last and what is remembered of it, while in `state` and the venue active."""
    stored = await ctx.services.venues.last_venue(ctx.openid)
    if stored is None or stored.state != state:
        return None
    venue = await ctx.services.venues.get(stored.scene)
    return (venue, stored) if venue is not None and venue.active else None


async def check_in(ctx: Context, profile: Profile, venue: Venue, relative: Relative | None = None) -> Reply:
    """Record the entry of the user (or of one of their relatives) and reply with the stamped code. A second scan
    of the same venue within its stay is the same visit: nothing more is recorded. A relative registered after
    the scan joins the user's visit, so 离场 ends both."""
    services = ctx.services
    now = services.clock.time()
    stored = await services.venues.last_venue(ctx.openid)
    ongoing = stored.visit if stored is not None and stored.state == "in" and stored.scene == venue.scene \
        and now < stored.entered_at + venue.stay else ""
    stamp = ctx.render("venues/stamp.txt", venue=venue.name, time=day_minute(now))
    if relative is None:
        if not ongoing:
            visit = services.venues.new_visit()
            entry = services.venues.holder_entry(ctx.openid, profile.doc_index, visit)
            await ctx.write_with_turn(services.venues.entry_writes(venue.scene, profile.doc_index, entry, now, visit))
            ctx.with_turn(services.venues.identity_write(ctx.openid, profile.doc_index, profile.sealed, now))
            ctx.with_turn(services.venues.last_venue_write(ctx.openid, "in", venue.scene, venue.stay, visit, now))
            services.metrics.inc("healthbot_venue_entries_total", whose="self")
        return await code_image(ctx, profile.person_of, profile.doc_index, stamp=stamp,
                                notice=ctx.render("venues/leave_hint.txt"))
    person = relative_person(relative)
    visit = ongoing or services.venues.new_visit()
    entry = services.venues.sealed_entry(venue.scene, {
        "o": ctx.openid, "n": person.name, "t": person.doc_type, "d": person.doc_number,
        "p": profile.person.phone, "r": relative.relationship, "v": visit})
    await ctx.write_with_turn(services.venues.entry_writes(venue.scene, relative.index, entry, now, visit))
    services.metrics.inc("healthbot_venue_entries_total", whose="relative")
    return await relative_code(ctx, profile, relative, stamp=stamp)


async def leave(ctx: Context) -> Reply:
    """离场: the visit the user is in ends now, for them and for the relatives registered in it."""
    found = await current_visit(ctx)
    if found is None or not found[1].visit:
        return ctx.text("venues/nothing_to_leave.txt")
    venue, stored = found
    now = ctx.services.clock.time()
    await ctx.write_with_turn(ctx.services.venues.exit_writes(venue.scene, stored.visit, stored.entered_at, now))
    ctx.with_turn(ctx.services.venues.forget_last_venue(ctx.openid))
    return ctx.text("venues/left.txt", venue=venue.name, entered=day_minute(stored.entered_at),
                    minutes=max(0, int(now - stored.entered_at) // 60))


async def offer_relatives(ctx: Context, venue: Venue) -> None:
    """After a check-in, one tap registers a relative who came along (a link that sends 「为亲属登记 N」)."""
    if not await ctx.read_hash(ctx.services.relatives.key(ctx.openid)):  # most people scan alone: no second read
        return
    relatives = await ctx.services.relatives.list(ctx.openid)
    if relatives:
        ctx.follow_up(ctx.text("venues/offer_relatives.txt", venue=venue.name, relatives=numbered(relatives)))

