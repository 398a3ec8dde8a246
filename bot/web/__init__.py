"""The pages healthbot serves besides /wechat: the guard's scan page, live codes, face checks and /verify.

Handlers never import this package; the app installs it."""

from __future__ import annotations

from aiohttp import web

from bot.engine.dispatcher import Dispatcher
from bot.web.common import PageRoutes
from bot.web.face import FacePages
from bot.web.live import LivePages
from bot.web.scan import ScanPage
from bot.web.venue_code import VenueScreen
from bot.web.verify import VerifyPage


def install(app: web.Application, dispatcher: Dispatcher) -> None:
    services = dispatcher.services
    routes = PageRoutes(app, services)
    for pages in (ScanPage(services), VerifyPage(services), LivePages(services), FacePages(dispatcher),
                  VenueScreen(services)):
        pages.install(routes)
