"""Venue codes that cannot be forwarded for long (`admin venue add --rotate daily`): the venue's QR is a WeChat
temporary parametric code, a new one each day, shown on a screen at the door by a stable URL. A scan is accepted
only with the current day's token; yesterday's (forwarded, photographed) is refused and records nothing."""

from __future__ import annotations

import asyncio
import secrets

from bot.domain.clock import local
from bot.engine.services import Services
from storage.venues import Venue

CODE_SECONDS = 2 * 86400  # WeChat keeps a day's QR resolving past midnight; the token check refuses it then
SCREEN = "venue-screen"  # the signed link's purpose
SCREEN_LINK_DAYS = 3650


class RenewalBusy(Exception):
    """Another worker is making today's code and has not finished: try again in a moment."""


def today(services: Services) -> str:
    return local(services.clock.time()).strftime("%Y%m%d")


async def todays_code(services: Services, venue: Venue) -> Venue:
    """The venue with today's code, made now (one worker at a time) when the day has changed."""
    day = today(services)
    if venue.code_day == day and venue.code_token:
        return venue
    if not await services.venues.renewing(venue.scene):
        for _ in range(30):  # another worker asked WeChat for it
            await asyncio.sleep(0.1)
            fresh = await services.venues.get(venue.scene, cached=False)
            if fresh is not None and fresh.code_day == day:
                return fresh
        raise RenewalBusy(venue.scene)
    token = secrets.token_urlsafe(9)
    ticket, _ = await services.api.create_temporary_qrcode(venue.scene_for(token), CODE_SECONDS)
    await services.venues.set_code(venue.scene, token, day, ticket)
    fresh = await services.venues.get(venue.scene, cached=False)
    assert fresh is not None  # noqa: S101 - just written
    return fresh


async def accepted(services: Services, venue: Venue, token: str) -> bool:
    """Whether a scan of a rotating venue carries today's token; checked again without the worker's cache
    before refusing (a code renewed by another worker a moment ago)."""
    day = today(services)
    if _carries(venue, token, day):
        return True
    fresh = await services.venues.get(venue.scene, cached=False)
    return fresh is not None and _carries(fresh, token, day)


def _carries(venue: Venue, token: str, day: str) -> bool:
    """Whether `token` is the venue's code of `day`."""
    return bool(token) and venue.code_token == token and venue.code_day == day


def screen_link(services: Services, venue: Venue) -> str:
    """The stable URL a screen at the door opens: today's code, whatever the day."""
    token = services.signer.sign(SCREEN, {"s": venue.scene,
                                          "exp": int(services.clock.time()) + SCREEN_LINK_DAYS * 86400})
    return f"{services.settings.public_url}/venue-code?t={token}"
