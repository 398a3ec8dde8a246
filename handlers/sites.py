"""核酸采样点: 「采样点」 asks for a location; a location gets the nearest sites; 「采样点 朝阳区」 lists a
district's."""

from __future__ import annotations

from bot.engine.context import Context
from bot.engine.router import Router
from bot.features.sites import SitesService
from bot.wechat.replies import Reply

router = Router("sites")


@router.keywords("采样点", "核酸采样点", "附近采样点", "核酸点", "附近核酸点", "test sites", "testing sites")
async def ask_location(ctx: Context) -> Reply:
    sites = ctx.services.plugin(SitesService)
    if not await sites.registry.count():
        return ctx.text("sites/empty.txt")
    return ctx.text("sites/ask_location.txt")


@router.regex(r"(?:核酸采样点|采样点|核酸点|test sites|testing sites)\s*(?P<words>\S.{0,19})")
async def district_sites(ctx: Context) -> Reply:
    words = ctx.match.group("words").strip() if ctx.match else ""
    sites = ctx.services.plugin(SitesService)
    if not await sites.registry.count():
        return ctx.text("sites/empty.txt")
    return ctx.text("sites/district.txt", words=words, sites=await sites.in_district(words))


@router.message("location")
@router.event("location_select")
async def nearest_sites(ctx: Context) -> Reply:
    """The location is used for this answer only, never stored."""
    sites = ctx.services.plugin(SitesService)
    if ctx.message.location is None:
        return ctx.text("location.txt")
    if not await sites.registry.count():
        return ctx.text("sites/empty.txt")
    lng, lat = ctx.message.location
    return ctx.text("sites/nearest.txt", found=await sites.nearest(lng, lat),
                    radius=sites.settings.radius_km)
