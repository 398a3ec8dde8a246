"""场所码: a citizen scans a venue's QR with WeChat, the entry is recorded, and the reply is their code
stamped with the venue and the time, which is what the guard at the door looks at."""

from __future__ import annotations

from bot.engine.context import Context
from bot.engine.router import Router, scene_of
from bot.usecases.checkin import check_in, last_venue, leave, offer_relatives, remember_pending
from bot.usecases.relatives import numbered
from bot.usecases.venue_codes import accepted
from bot.wechat.replies import Reply, Text
from handlers.health_code import claim
from storage.keys import UserHash
from storage.venues import SCENE_PREFIX, split_scene

router = Router("venues")


@router.scene(SCENE_PREFIX, reads=(UserHash.OWN_IMAGE, UserHash.RELATIVES))
async def venue_scanned(ctx: Context) -> Reply:
    scene, token = split_scene(scene_of(ctx.message))
    venue = await ctx.services.venues.get(scene)
    if venue is None or (token and not venue.rotate):
        return ctx.text("venues/unknown.txt")
    if not venue.active:
        return ctx.text("venues/disabled.txt", venue=venue.name)
    if venue.rotate and not await accepted(ctx.services, venue, token):  # forwarded, or an old photo
        return ctx.text("venues/code_updated.txt")
    profile = await ctx.profile()
    if profile is None:
        remember_pending(ctx, venue)
        first = await claim.start(ctx)
        return Text(ctx.render("venues/claim_first.txt", venue=venue.name) + "\n\n" + first.content)  # type: ignore[union-attr]
    reply = await check_in(ctx, profile, venue)
    await offer_relatives(ctx, venue)
    return reply


@router.regex(r"(?:为亲属登记|check in relative)\s*(?P<n>\d{1,2})?")
async def register_relative(ctx: Context) -> Reply:
    venue = await last_venue(ctx, "in")
    profile = await ctx.profile()
    if venue is None or profile is None:
        return ctx.text("venues/scan_first.txt")
    relatives = await ctx.services.relatives.list(ctx.openid)
    picked = ctx.match.group("n") if ctx.match else None
    relative = next((r for r in relatives if picked is not None and r.number == int(picked)), None)
    if relative is None:
        return ctx.text("venues/offer_relatives.txt", venue=venue.name, relatives=numbered(relatives))
    return await check_in(ctx, profile, venue, relative)


@router.keywords("离场", "离开", "离场登记", "check out", "leave")
async def left_venue(ctx: Context) -> Reply:
    return await leave(ctx)
