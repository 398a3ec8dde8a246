"""Venues for operators: create one (WeChat's permanent parametric QR and a printable A4 poster), list, disable."""

from __future__ import annotations

from pathlib import Path

from bot.domain.render import Poster, render_poster
from bot.engine.services import Services
from storage.venues import Venue, new_scene


async def add_venue(services: Services, name: str, address: str, folder: Path) -> tuple[Venue, Path]:
    scene = new_scene()
    ticket, url = await services.api.create_venue_qrcode(scene)
    qr_png = await services.api.qrcode_image(ticket)
    venue = await services.venues.add(scene, name, address, ticket, url, services.clock.time())
    render = services.templates.render
    poster = Poster(title=render("venues/poster_title.txt"), venue=name, address=address,
                    instruction=render("venues/poster_instruction.txt"), footer=render("venues/poster_footer.txt"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"venue-{scene.removeprefix('venue:')}.png"
    path.write_bytes(render_poster(services.renderer.font_path, poster, qr_png))
    return venue, path
