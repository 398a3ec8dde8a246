"""Wire the parts into an aiohttp application."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator

from aiohttp import web
from redis.exceptions import RedisError

from bot.config import STANDIN_PATH, Settings
from bot.context import Clock
from bot.dispatcher import Dispatcher
from bot.face import FaceVerifier, HttpFaceVerifier, LocalFaceVerifier
from bot.metrics import Metrics
from bot.pages import Pages
from bot.pii import Vault
from bot.providers import (
    HttpIdentity,
    HttpResults,
    HttpStatus,
    HttpTravel,
    IdentityProvider,
    LocalIdentity,
    LocalResults,
    LocalStatus,
    LocalTravel,
    ResultProvider,
    StatusProvider,
    TravelProvider,
)
from bot.render import Renderer, find_cjk_font
from bot.router import Handler, Router
from bot.services import Services
from bot.sms import HttpSms, SmsSender, StandInSms
from bot.standin import create_standin
from bot.templates import Templates
from bot.tokens import TokenSigner
from bot.webhook import BODY_LIMIT, Webhook
from bot.wechat_api import WeChatAPI
from storage import Keys, connect, connect_hot
from storage.profiles import ProfileStore
from storage.ratelimit import RateLimiter
from storage.relatives import RelativeStore
from storage.results import ResultRegistry
from storage.sms import SmsCodes
from storage.status import StatusRegistry
from storage.travel import TravelRegistry
from storage.turns import TurnStore

log = logging.getLogger("healthbot")

SERVICES = web.AppKey("services", Services)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    redis = connect(settings.redis.url, settings.redis.max_connections)
    hot = connect_hot(settings.redis.url, redis)
    keys = Keys(settings.redis.prefix)
    server = settings.server
    turns = TurnStore(hot, keys, dedup_ttl=server.dedup_ttl, lease=server.inflight_lease,
                      lock_ttl=server.user_lock_ttl, dialog_ttl=settings.dialog.ttl,
                      notice_ttl=settings.dialog.timeout_notice_ttl, burst=settings.limits.messages_burst,
                      per_minute=settings.limits.messages_per_minute)
    vault = Vault(settings.security.index_key_bytes(), settings.security.data_key_bytes())
    clock = clock or Clock()
    metrics = Metrics()
    registry = StatusRegistry(redis, keys, reads=hot)
    identity: IdentityProvider = LocalIdentity()
    if settings.identity.url:
        identity = HttpIdentity(settings.identity.url, settings.identity.timeout, settings.identity.token)
    status: StatusProvider = LocalStatus(registry, clock)
    if settings.status.url:
        status = HttpStatus(settings.status.url, settings.status.timeout, settings.status.token,
                            settings.status.cache_seconds)
    rules = settings.relatives
    signer = TokenSigner(settings.security.signing_key_map(), settings.security.active_key_id)
    links = {"redis": redis, "keys": keys, "signer": signer, "clock": clock, "public_url": settings.public_url,
             "ttl": rules.face_link_minutes * 60}
    face: FaceVerifier = LocalFaceVerifier(**links)  # type: ignore[arg-type]
    if settings.face.url:
        face = HttpFaceVerifier(settings.face.url, settings.face.timeout, settings.face.token, **links)
    sms_sender: SmsSender = StandInSms(settings.wechat.api_base, settings.sms.timeout, settings.dev_mode)
    if settings.sms.url:
        sms_sender = HttpSms(settings.sms.url, settings.sms.timeout, settings.sms.token)
    travel_registry = TravelRegistry(redis, keys, vault)
    travel: TravelProvider = LocalTravel(travel_registry, clock)
    if settings.travel.url:
        travel = HttpTravel(settings.travel.url, settings.travel.timeout, settings.travel.token)
    result_registry = ResultRegistry(redis, keys, vault)
    results: ResultProvider = LocalResults(result_registry)
    if settings.results.url:
        results = HttpResults(settings.results.url, settings.results.timeout, settings.results.token)
    return Services(
        settings=settings,
        templates=Templates(settings.paths.templates),
        redis=redis,
        hot=hot,
        keys=keys,
        turns=turns,
        vault=vault,
        clock=clock,
        api=WeChatAPI(settings.wechat, redis, keys, vault, metrics=metrics),
        profiles=ProfileStore(redis, keys, vault),
        status_registry=registry,
        identity=identity,
        status=status,
        renderer=Renderer(find_cjk_font(settings.render.font)),
        relatives=RelativeStore(redis, keys, vault, max_per_user=rules.max_per_user,
                                max_guardians=rules.max_guardians, unbind_after=rules.unbind_after_hours * 3600),
        signer=signer,
        face=face,
        sms=SmsCodes(redis, keys, settings.security.index_key_bytes()),
        sms_sender=sms_sender,
        travel_registry=travel_registry,
        travel=travel,
        result_registry=result_registry,
        results=results,
        limiter=RateLimiter(redis),
        metrics=metrics,
    )


def build_app(settings: Settings, *, clock: Clock | None = None, routers: list[Router] | None = None,
              fallback: Handler | None = None) -> web.Application:
    from handlers import all_routers
    from handlers import fallback as default_fallback

    services = build_services(settings, clock)
    dispatcher = Dispatcher(services, routers if routers is not None else all_routers(),
                            fallback or default_fallback)
    webhook = Webhook(settings, dispatcher)

    app = web.Application(client_max_size=BODY_LIMIT)
    app[SERVICES] = services
    app[DISPATCHER] = dispatcher
    app.router.add_get("/wechat", webhook.verify_url)
    app.router.add_post("/wechat", webhook.receive)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)
    Pages(dispatcher).install(app)
    if settings.dev_mode:
        app.add_subapp(STANDIN_PATH, create_standin(settings.wechat.app_id, settings.wechat.app_secret))
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    yield
    services, dispatcher = app[SERVICES], app[DISPATCHER]
    await dispatcher.drain()
    await services.api.close()
    services.renderer.close()
    for upstream in (services.identity, services.status, services.travel, services.results):
        if hasattr(upstream, "close"):
            await upstream.close()
    if not services.settings.redis.url.startswith("memory://"):
        await services.redis.aclose()
        if services.hot is not services.redis:
            await services.hot.aclose()


async def redis_reachable(services: Services) -> bool:
    try:
        return bool(await asyncio.wait_for(services.redis.ping(), timeout=1.0))
    except (RedisError, OSError, TimeoutError):
        return False


async def metrics_page(request: web.Request) -> web.Response:
    return web.Response(text=request.app[SERVICES].metrics.render(), content_type="text/plain", charset="utf-8",
                        headers={"Cache-Control": "no-store"})


async def healthz(request: web.Request) -> web.Response:
    ok = await redis_reachable(request.app[SERVICES])
    return web.json_response({"status": "ok" if ok else "degraded", "redis": ok, "worker": os.getpid()})
