"""Venues for operators: create one (WeChat's permanent parametric QR and a printable A4 poster), list, disable."""

from __future__ import annotations

from pathlib import Path

from bot.domain.clock import parse_duration
from bot.domain.render import Poster, render_poster
from bot.engine.services import Services
from bot.usecases.venue_codes import screen_link, todays_code
from storage.venues import DEFAULT_STAY, Venue, new_scene

NAME_LIMIT, ADDRESS_LIMIT = 40, 80


class BadVenue(ValueError):
    """A name or address that cannot be a venue's; nothing was stored and no QR code was used."""


def check_venue(name: str, address: str) -> None:
    """What a poster and a trace can show: printable text of sensible length, on one line."""
    for what, text, limit in (("name", name, NAME_LIMIT), ("address", address, ADDRESS_LIMIT)):
        if what == "name" and not text:
            raise BadVenue("the venue's name is empty")
        if len(text) > limit:
            raise BadVenue(f"the venue's {what} is {len(text)} characters; at most {limit}")
        if not text.isprintable():
            raise BadVenue(f"the venue's {what} holds a line break or another control character")


STAY_LIMITS = (600, 86400)


def parse_stay(text: str) -> int:
    """`2h`, `90m`, `1h30m`: seconds, from 10 minutes to 24 hours; BadVenue otherwise."""
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise BadVenue(f"--stay {exc}") from None
    if not STAY_LIMITS[0] <= seconds <= STAY_LIMITS[1]:
        raise BadVenue(f"--stay {text} is outside 10m to 24h")
    return seconds


async def add_rotating_venue(services: Services, name: str, address: str, stay: int = DEFAULT_STAY
                             ) -> tuple[Venue, str]:
    """A venue whose QR is renewed daily (WeChat's temporary codes): no poster to print, but a stable URL for a
    screen at the door. Today's code is made at once, so a refusal from WeChat shows here."""
    check_venue(name, address)
    venue = await services.venues.add(new_scene(), name, address, "", "", services.clock.time(), stay, "daily")
    venue = await todays_code(services, venue)
    return venue, screen_link(services, venue)


async def add_venue(services: Services, name: str, address: str, folder: Path, stay: int = DEFAULT_STAY
                    ) -> tuple[Venue, Path]:
    """BadVenue before anything is stored or a permanent QR code (of WeChat's 100,000) is used."""
    check_venue(name, address)
    scene = new_scene()
    ticket, url = await services.api.create_venue_qrcode(scene)
    qr_png = await services.api.qrcode_image(ticket)
    venue = await services.venues.add(scene, name, address, ticket, url, services.clock.time(), stay)
    render = services.templates.render
    poster = Poster(title=render("venues/poster_title.txt"), venue=name, address=address,
                    instruction=render("venues/poster_instruction.txt"), footer=render("venues/poster_footer.txt"),
                    venue_id=render("venues/poster_id.txt", scene=scene))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"venue-{scene.removeprefix('venue:')}.png"
    path.write_bytes(render_poster(services.renderer.font_path, poster, qr_png))
    return venue, path
