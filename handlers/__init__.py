"""Each service registers its routes in its own module; this is the list the dispatcher is built from."""

from __future__ import annotations

from bot.router import Router
from bot.services import Services
from handlers import basics
from handlers.basics import fallback


def all_routers() -> list[Router]:
    return [basics.router]


def install(services: Services) -> None:
    """Attach the providers the handlers need (identity, status, rendering) to the services."""


__all__ = ["all_routers", "fallback", "install"]
