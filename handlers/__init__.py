"""Each service registers its routes in its own module; this is the list the dispatcher is built from."""

from __future__ import annotations

from bot.engine.router import Router
from handlers import (
    basics,
    colours,
    face,
    faq,
    health_code,
    preferences,
    relatives,
    results,
    sites,
    travel,
    vaccination,
    venues,
)
from handlers.basics import fallback


def all_routers() -> list[Router]:
    return [health_code.router, relatives.router, colours.router, face.router, travel.router, results.router,
            vaccination.router, sites.router, faq.router, venues.router, preferences.router, preferences.settings,
            basics.router, faq.by_number]


__all__ = ["all_routers", "fallback"]
