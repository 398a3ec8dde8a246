"""The composition root: every part a handler, page or operator command uses, built once by `build_services`
(the server, the admin commands and the dev tools alike)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from bot.domain.clock import Clock
from bot.domain.tokens import TokenSigner
from bot.engine.prefs import Prefs
from bot.features.codes import HealthCodes
from bot.features.face import Face
from bot.features.installed import PLUGINS
from bot.features.plugins import Kit, Plugin
from bot.features.results import Results
from bot.features.sms import Sms
from bot.features.status import Status, reason_templates, reasons_from
from bot.features.travel import Travel
from bot.ops.config import ConfigError, Settings, UpstreamSettings
from bot.ops.metrics import Metrics
from bot.ops.templates import Templates, Texts
from bot.rendering import Renderer, find_cjk_font
from bot.upstreams import build_upstreams
from bot.upstreams.face import FaceLinks
from bot.upstreams.http import SharedSession
from bot.wechat.api import WeChatAPI, WeChatAPIError
from bot.wechat.replies import Image, Text
from storage import Keys, connect, connect_hot
from storage.appeals import AppealStore
from storage.audit import AuditLog
from storage.codes import ImageCache, QrTokens, ViewLinks
from storage.connection import HotClient, RedisClient
from storage.face import FaceNonces
from storage.notices import NoticeQueue
from storage.prefs import PrefsStore
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

log = logging.getLogger("healthbot.services")
CORE_UPSTREAMS = ("identity", "status", "face", "sms", "travel", "results")
T = TypeVar("T")


@dataclass
class Services:
    # shared
    settings: Settings
    clock: Clock
    texts: Texts  # every language's templates (a user's: Context.templates)
    prefs: PrefsStore  # each user's language and 长辈模式 (a turn's own come with it: Context.prefs)
    api: WeChatAPI
    metrics: Metrics
    renderer: Renderer
    signer: TokenSigner
    vault: Vault
    audit: AuditLog
    notices: NoticeQueue  # customer-service notices to send (bot/usecases/notices.py sends them)
    limiter: RateLimiter
    turns: TurnStore
    writer: Writer  # writes of other slots than the user's, on a cluster (Context.write_with_turn)
    # features
    codes: HealthCodes
    status: Status
    appeals: AppealStore  # 申诉 tickets (bot/usecases/appeals.py)
    relatives: RelativeStore
    face: Face
    sms: Sms
    travel: Travel
    results: Results
    venues: VenueRegistry
    # the connections, for lifecycle and the tests
    redis: RedisClient
    hot: HotClient  # the lean client for what every request does (storage/resp.py)
    keys: Keys
    http: SharedSession
    plugins: dict[type, object] = field(default_factory=dict)
    # Each upstream's config section by name, the plugins' included (/readyz probes those with a url).
    upstreams: dict[str, UpstreamSettings] = field(default_factory=dict)

    @property
    def templates(self) -> Templates:
        """The default language's templates: for operators' tools and texts before a user is known."""
        return self.texts.of()

    async def texts_for(self, openids: Iterable[str]) -> dict[str, Templates]:
        """Each user's texts, for what is sent outside their turn (notices): their language, and 长辈模式's
        wording where they chose it."""
        stored = await self.prefs.get_many(openids)
        return {openid: Prefs.decode(value).texts(self.texts) for openid, value in stored.items()}

    def plugin(self, kind: type[T]) -> T:
        """A plugin's service by its class (bot/features/plugins.py)."""
        service = self.plugins[kind]
        assert isinstance(service, kind)  # noqa: S101 - the dict is keyed by each value's own class
        return service

    async def upload_image(self, png: bytes, fallback: str = "") -> Image | Text:
        """An uploaded image, or its text when WeChat refuses the upload."""
        try:
            return Image(media_id=await self.api.upload_image(png), fallback=fallback)
        except WeChatAPIError as exc:
            log.warning("image upload failed: %s", exc)
            return Text(fallback or self.templates.render("image_failed.txt"))

    async def close(self) -> None:
        """Close every client this process opened (the embedded memory:// store is shared and stays)."""
        await self.api.close()
        self.renderer.close()
        await self.http.close()
        if not self.settings.redis.url.startswith("memory://"):
            await self.redis.aclose()
            if self.hot is not self.redis:
                await self.hot.aclose()


def document_reads(settings: Settings, keys: Keys, plugins: list[Plugin]) -> tuple[Callable[[str], str], ...]:
    """The hashes of a user's document that showing their code reads, for the turn's first script to read with
    it: the colour, then the facts kept in Redis (test results, and a plugin's, such as the vaccination
    record, when it has no HTTP upstream)."""
    found: list[Callable[[str], str]] = [keys.status]
    if not settings.results.url:
        found.append(keys.results)
    for plugin in plugins:
        section = settings.section(plugin.name, plugin.section)
        if plugin.document_hash and not getattr(section, "url", ""):
            found.append(functools.partial(keys.of_document, leaf=plugin.document_hash))
    return tuple(found)


def build_services(settings: Settings, clock: Clock | None = None, prefetch: tuple[str, ...] = (),
                   plugins: list[Plugin] | None = None) -> Services:
    """Every part, wired. `prefetch`: the user's hashes the routes read (RouteTable.prefetch), read with each
    turn. `plugins`: the services beyond the core (default: PLUGINS)."""
    redis = connect(settings.redis.url, settings.redis.max_connections)
    hot = connect_hot(settings.redis.url, redis)
    keys = Keys(settings.redis.prefix)
    server = settings.server
    plugins = PLUGINS if plugins is None else plugins
    turns = TurnStore(hot, keys, dedup_ttl=server.dedup_ttl, lease=server.inflight_lease,
                      lock_ttl=server.user_lock_ttl, dialog_ttl=settings.dialog.ttl,
                      notice_ttl=settings.dialog.timeout_notice_ttl, burst=settings.limits.messages_burst,
                      per_minute=settings.limits.messages_per_minute, replay_window=server.replay_window,
                      prefetch=prefetch, document_reads=document_reads(settings, keys, plugins))
    vault = Vault(settings.security.index_key_bytes(), settings.security.data_key_bytes())
    clock = clock or Clock()
    metrics = Metrics()
    rules = settings.relatives
    signer = TokenSigner(settings.security.signing_key_map(), settings.security.active_key_id)
    status_registry = StatusRegistry(redis, keys, vault, retention=settings.colours.history_days * 86400, reads=hot)
    reasons = reasons_from(settings)
    face_links = FaceLinks(FaceNonces(redis, keys), signer, clock, settings.public_url, rules.face_link_minutes * 60)
    travel_registry = TravelRegistry(redis, keys, vault)
    result_registry = ResultRegistry(redis, keys, vault, reads=hot)
    writer = Writer(hot)
    upstreams = build_upstreams(settings, clock, face_links, status_registry, travel_registry, result_registry,
                                metrics, reason_codes=tuple(reasons.days))
    texts = Texts(settings.paths.templates)
    for code in reasons.days:
        for lang in texts.languages:
            if not all(map(texts.of(lang).has, reason_templates(code))):
                label, clears = reason_templates(code)
                raise ConfigError(f"reasons.{code} has no texts: add templates/{lang}/{label} and "
                                  f"templates/{lang}/{clears}")
    audit, notices = AuditLog(redis, keys, vault), NoticeQueue(redis, keys)
    services = Services(
        settings=settings,
        clock=clock,
        texts=texts,
        prefs=PrefsStore(redis, keys),
        api=WeChatAPI(settings.wechat, ApiCache(redis, keys), vault, metrics=metrics),
        metrics=metrics,
        renderer=Renderer(find_cjk_font(settings.render.font)),
        signer=signer,
        vault=vault,
        audit=audit,
        notices=notices,
        limiter=RateLimiter(redis),
        turns=turns,
        writer=writer,
        codes=HealthCodes(ProfileStore(redis, keys, vault, reads=hot), upstreams.identity,
                          QrTokens(redis, keys, vault, settings.render.qr_token_ttl), ImageCache(keys),
                          ViewLinks(redis, keys)),
        status=Status(status_registry, upstreams.status, reasons, notices, audit, clock),
        appeals=AppealStore(redis, keys, vault, settings.appeals.retention_days * 86400),
        relatives=RelativeStore(redis, keys, vault, max_per_user=rules.max_per_user,
                                max_guardians=rules.max_guardians, unbind_after=rules.unbind_after_hours * 3600),
        face=Face(face_links, upstreams.face),
        sms=Sms(SmsCodes(redis, keys, settings.security.index_key_bytes()), upstreams.sms),
        travel=Travel(travel_registry, upstreams.travel, settings.travel.combined_window_hours),
        results=Results(result_registry, upstreams.results),
        venues=VenueRegistry(redis, keys, vault, settings.venues.retention_days, hot, writer),
        redis=redis,
        hot=hot,
        keys=keys,
        http=upstreams.http,
    )
    services.upstreams = {name: getattr(settings, name) for name in CORE_UPSTREAMS}
    kit = Kit(settings, redis, keys, vault, clock, upstreams.http, metrics, services.codes.profiles, hot)
    for plugin in plugins:
        section = settings.section(plugin.name, plugin.section)
        if isinstance(section, UpstreamSettings):
            services.upstreams[plugin.name] = section
        service = plugin.build(kit, section)
        if not isinstance(service, plugin.service):
            raise TypeError(f"plugin {plugin.name} built a {type(service).__name__}, not a {plugin.service.__name__}")
        services.plugins[plugin.service] = service
    return services
