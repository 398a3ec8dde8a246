"""Wire the parts into an aiohttp application."""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from bot import web as web_pages
from bot.devkit.standin import create_standin
from bot.domain.clock import Clock
from bot.domain.tokens import TokenSigner
from bot.engine.dispatcher import Dispatcher
from bot.engine.router import Handler, Router, RouteTable
from bot.engine.services import Services
from bot.ops.config import STANDIN_PATH, Settings
from bot.ops.logs import quiet_client_errors
from bot.ops.metrics import Metrics
from bot.ops.templates import Templates
from bot.rendering import Renderer, find_cjk_font
from bot.upstreams import build_upstreams
from bot.upstreams.face import FaceLinks
from bot.webhook import BODY_LIMIT, Webhook
from bot.wechat.api import WeChatAPI
from storage import Keys, connect, connect_hot, reachable
from storage.audit import AuditLog
from storage.codes import ImageCache, QrTokens, ViewLinks
from storage.face import FaceNonces
from storage.profiles import ProfileStore
from storage.ratelimit import RateLimiter
from storage.relatives import RelativeStore
from storage.results import ResultRegistry
from storage.sms import SmsCodes
from storage.status import StatusRegistry
from storage.travel import TravelRegistry
from storage.turns import TurnStore
from storage.vault import Vault
from storage.venues import VenueRegistry
from storage.wechat import ApiCache
from storage.writes import Writer

log = logging.getLogger("healthbot")

SERVICES = web.AppKey("services", Services)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)


def build_services(settings: Settings, clock: Clock | None = None, prefetch: tuple[str, ...] = ()) -> Services:
    """`prefetch`: the user's hashes the routes read (RouteTable.prefetch), read with each turn."""
    redis = connect(settings.redis.url, settings.redis.max_connections)
    hot = connect_hot(settings.redis.url, redis)
    keys = Keys(settings.redis.prefix)
    server = settings.server
    turns = TurnStore(hot, keys, dedup_ttl=server.dedup_ttl, lease=server.inflight_lease,
                      lock_ttl=server.user_lock_ttl, dialog_ttl=settings.dialog.ttl,
                      notice_ttl=settings.dialog.timeout_notice_ttl, burst=settings.limits.messages_burst,
                      per_minute=settings.limits.messages_per_minute, replay_window=server.replay_window,
                      prefetch=prefetch)
    vault = Vault(settings.security.index_key_bytes(), settings.security.data_key_bytes())
    clock = clock or Clock()
    metrics = Metrics()
    registry = StatusRegistry(redis, keys, reads=hot)
    rules = settings.relatives
    signer = TokenSigner(settings.security.signing_key_map(), settings.security.active_key_id)
    face_links = FaceLinks(FaceNonces(redis, keys), signer, clock, settings.public_url, rules.face_link_minutes * 60)
    travel_registry = TravelRegistry(redis, keys, vault)
    result_registry = ResultRegistry(redis, keys, vault)
    writer = Writer(hot)
    upstreams = build_upstreams(settings, clock, face_links, registry, travel_registry, result_registry, metrics)
    return Services(
        settings=settings,
        templates=Templates(settings.paths.templates),
        redis=redis,
        hot=hot,
        keys=keys,
        turns=turns,
        vault=vault,
        clock=clock,
        api=WeChatAPI(settings.wechat, ApiCache(redis, keys), vault, metrics=metrics),
        profiles=ProfileStore(redis, keys, vault),
        status_registry=registry,
        upstreams=upstreams,
        identity=upstreams.identity,
        status=upstreams.status,
        renderer=Renderer(find_cjk_font(settings.render.font)),
        relatives=RelativeStore(redis, keys, vault, max_per_user=rules.max_per_user,
                                max_guardians=rules.max_guardians, unbind_after=rules.unbind_after_hours * 3600),
        signer=signer,
        face=upstreams.face,
        face_links=face_links,
        sms=SmsCodes(redis, keys, settings.security.index_key_bytes()),
        sms_sender=upstreams.sms,
        travel_registry=travel_registry,
        travel=upstreams.travel,
        result_registry=result_registry,
        results=upstreams.results,
        limiter=RateLimiter(redis),
        qr_tokens=QrTokens(redis, keys, vault, settings.render.qr_token_ttl),
        images=ImageCache(redis, keys),
        view_links=ViewLinks(redis, keys),
        venues=VenueRegistry(redis, keys, vault, settings.venues.retention_days, hot, writer),
        writer=writer,
        audit=AuditLog(redis, keys),
        metrics=metrics,
    )


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
    app.router.add_get("/wechat", webhook.verify_url)
    app.router.add_post("/wechat", webhook.receive)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if settings.server.metrics_address:
        app.on_startup.append(_metrics_site)
    else:
        app.router.add_get("/metrics", metrics_page)
    web_pages.install(app, dispatcher)
    if settings.dev_mode:
        app.add_subapp(STANDIN_PATH, create_standin(settings.wechat.app_id, settings.wechat.app_secret))
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    services, dispatcher = app[SERVICES], app[DISPATCHER]
    dispatcher.loop = asyncio.get_running_loop()
    yield
    dispatcher.loop = None
    await dispatcher.drain()
    await services.close()


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


async def metrics_page(request: web.Request) -> web.Response:
    token = request.app[SERVICES].settings.server.metrics_token
    if token and not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        raise web.HTTPUnauthorized(text="metrics need a token", headers={"WWW-Authenticate": "Bearer"})
    return web.Response(body=request.app[SERVICES].metrics.render(), content_type="text/plain", charset="utf-8",
                        headers={"Cache-Control": "no-store"})


async def readyz(request: web.Request) -> web.Response:
    """For a load balancer: whether this worker can serve now. Redis answers, the font is there, and every
    configured HTTP upstream answers something (any status: it is up; its contract is tested elsewhere)."""
    services = request.app[SERVICES]
    checks = {"redis": await redis_reachable(services), "font": Path(services.renderer.font_path).is_file()}
    for name in ("identity", "status", "face", "sms", "travel", "results"):
        url = getattr(services.settings, name).url
        if url:
            checks[name] = await _answers(services, url)
    ready = all(checks.values())
    return web.json_response({"ready": ready, **checks}, status=200 if ready else 503,
                             headers={"Cache-Control": "no-store"})


async def _answers(services: Services, url: str) -> bool:
    try:
        async with services.upstreams.http.get().head(url, timeout=aiohttp.ClientTimeout(total=1.0)):
            return True
    except (aiohttp.ClientError, TimeoutError):
        return False


async def healthz(request: web.Request) -> web.Response:
    ok = await redis_reachable(request.app[SERVICES])
    return web.json_response({"status": "ok" if ok else "degraded", "redis": ok, "worker": os.getpid()})
