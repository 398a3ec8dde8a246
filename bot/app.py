"""Wire the parts into an aiohttp application."""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import aiohttp
from aiohttp import web

from bot import web as web_pages
from bot.devkit.standin import create_standin
from bot.domain.clock import Clock
from bot.engine.dispatcher import Dispatcher
from bot.engine.router import Handler, Router, RouteTable
from bot.engine.services import Services, build_services
from bot.ops.config import STANDIN_PATH, Settings, standins
from bot.ops.logs import quiet_client_errors
from bot.ops.probes import CachedProbes
from bot.usecases.notices import NoticeSender
from bot.webhook import BODY_LIMIT, Webhook
from storage import reachable

log = logging.getLogger("healthbot")

SERVICES = web.AppKey("services", Services)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
PROBES = web.AppKey("probes", CachedProbes)
NOTICES = web.AppKey("notices", NoticeSender)


def build_app(settings: Settings, *, clock: Clock | None = None, routers: list[Router] | None = None,
              fallback: Handler | None = None) -> web.Application:
    from handlers import all_routers
    from handlers import fallback as default_fallback

    table = RouteTable(routers if routers is not None else all_routers())
    services = build_services(settings, clock, prefetch=table.prefetch)
    dispatcher = Dispatcher(services, table, fallback or default_fallback)
    webhook = Webhook(settings, dispatcher)

    quiet_client_errors()
    app = web.Application(client_max_size=BODY_LIMIT)
    app[SERVICES] = services
    app[DISPATCHER] = dispatcher
    app[PROBES] = CachedProbes()
    app.router.add_get("/wechat", webhook.verify_url)
    app.router.add_post("/wechat", webhook.receive)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if settings.server.metrics_address:
        app.on_startup.append(_metrics_site)
    elif settings.server.metrics_token or settings.dev_mode:
        app.router.add_get("/metrics", metrics_page)
    # else no /metrics on the webhook's port: behind a reverse proxy every request looks local, so an open
    # page there is open to the world (the start banner says so)
    web_pages.install(app, dispatcher)
    if settings.dev_mode:
        app.add_subapp(STANDIN_PATH, create_standin(settings.wechat.app_id, settings.wechat.app_secret))
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    services, dispatcher = app[SERVICES], app[DISPATCHER]
    if not services.settings.dev_mode:
        for name in standins(services.settings):  # serve refused any the operator did not name
            log.warning("%s runs as its stand-in ([upstreams] allow_standins): not for real citizens", name)
            services.metrics.set("healthbot_standin_upstream", 1, name=name)
    dispatcher.loop = asyncio.get_running_loop()
    notices = app[NOTICES] = NoticeSender(services)
    notices.start()
    yield
    log.info("stopping: finishing requests in flight and late customer-service sends")
    await notices.stop()
    dispatcher.loop = None
    await dispatcher.drain()
    await app[PROBES].close()
    await services.close()
    log.info("stopped")


async def redis_reachable(services: Services) -> bool:
    return await reachable(services.redis)


async def _metrics_site(app: web.Application) -> None:
    """/metrics on its own address (a loopback one, for the local Prometheus), shared by the workers."""
    host, _, port = app[SERVICES].settings.server.metrics_address.rpartition(":")
    metrics = web.Application()
    metrics[SERVICES] = app[SERVICES]
    metrics.router.add_get("/metrics", metrics_page)
    runner = web.AppRunner(metrics, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host.strip("[]"), int(port), reuse_port=True).start()

    async def stop(_: web.Application) -> None:
        await runner.cleanup()

    app.on_cleanup.append(stop)


def operator_asks(request: web.Request) -> bool:
    """Whether the request carries the operators' bearer token ([server] metrics_token)."""
    token = request.app[SERVICES].settings.server.metrics_token
    return bool(token) and hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}")


async def metrics_page(request: web.Request) -> web.Response:
    if request.app[SERVICES].settings.server.metrics_token and not operator_asks(request):
        raise web.HTTPUnauthorized(text="metrics need a token", headers={"WWW-Authenticate": "Bearer"})
    return web.Response(body=request.app[SERVICES].metrics.render(), content_type="text/plain", charset="utf-8",
                        headers={"Cache-Control": "no-store"})


async def readyz(request: web.Request) -> web.Response:
    """For a load balancer: whether this worker can serve now. Redis answers, the font is there, and every
    configured HTTP upstream answers something (any status: it is up; its contract is tested elsewhere).
    Each probe runs at most once an interval (bot/ops/probes.py), all at once: however often /readyz is
    called, the upstreams see one request each an interval, and a hanging one costs a call at most its
    timeout, once."""
    services, probes = request.app[SERVICES], request.app[PROBES]
    checked = {"redis": partial(redis_reachable, services),
               **{name: partial(_answers, services, section.url)
                  for name, section in services.upstreams.items() if section.url}}
    answers = await asyncio.gather(*(probes.check(name, probe) for name, probe in checked.items()))
    checks = {**dict(zip(checked, answers, strict=True)), "font": Path(services.renderer.font_path).is_file()}
    ready = all(checks.values())
    running = [] if services.settings.dev_mode else standins(services.settings)
    return web.json_response({"ready": ready, **checks, "standins": running}, status=200 if ready else 503,
                             headers={"Cache-Control": "no-store"})


async def _answers(services: Services, url: str) -> bool:
    try:
        async with services.http.get().head(url, timeout=aiohttp.ClientTimeout(total=1.0)):
            return True
    except (aiohttp.ClientError, TimeoutError):
        return False


async def healthz(request: web.Request) -> web.Response:
    """The process answers, and whether Redis does. Which worker answered is for operators only (the metrics
    token): process details are nobody else's business."""
    ok = await redis_reachable(request.app[SERVICES])
    body: dict[str, object] = {"status": "ok" if ok else "degraded", "redis": ok}
    if operator_asks(request):
        body["worker"] = os.getpid()
    return web.json_response(body)
