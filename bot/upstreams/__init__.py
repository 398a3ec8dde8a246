"""The services healthbot asks: identity, status, face, SMS, travel and results (docs/providers.md).

Each is local (or the stand-in) unless its section of the config sets a `url`; then it is that HTTP service,
reached through one shared session.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TypeVar

from bot.domain.clock import Clock
from bot.ops.config import Settings, UpstreamSettings
from bot.ops.metrics import Metrics
from bot.upstreams.face import FaceLinks, FaceProvider, FaceVerifier, HttpFaceVerifier, LocalFaceVerifier
from bot.upstreams.http import SharedSession
from bot.upstreams.identity import HttpIdentity, IdentityProvider, LocalIdentity
from bot.upstreams.results import HttpResults, LocalResults, ResultProvider
from bot.upstreams.sms import HttpSms, SmsSender, StandInSms
from bot.upstreams.status import HttpStatus, LocalStatus, StatusProvider
from bot.upstreams.travel import HttpTravel, LocalTravel, TravelProvider
from storage.results import ResultRegistry
from storage.status import StatusRegistry
from storage.travel import TravelRegistry

T = TypeVar("T")


@dataclass
class Upstreams:
    http: SharedSession
    identity: IdentityProvider
    status: StatusProvider
    face: FaceVerifier
    sms: SmsSender
    travel: TravelProvider
    results: ResultProvider


def build_upstreams(settings: Settings, clock: Clock, face_links: FaceLinks, status: StatusRegistry,
                    travel: TravelRegistry, results: ResultRegistry, metrics: Metrics | None = None,
                    reason_codes: Collection[str] = ()) -> Upstreams:
    http = SharedSession(metrics)

    def pick(section: UpstreamSettings, local: Callable[[], T], remote: Callable[..., T], **extra: object) -> T:
        if not section.url:
            return local()
        return remote(http, section.url, section.timeout, section.token, **extra)

    return Upstreams(
        http=http,
        identity=pick(settings.identity, LocalIdentity, HttpIdentity),
        status=pick(settings.status, lambda: LocalStatus(status, clock), HttpStatus,
                    cache_seconds=settings.status.cache_seconds, clock=clock, codes=reason_codes),
        face=pick(settings.face, lambda: LocalFaceVerifier(face_links),
                  lambda *args: HttpFaceVerifier(face_links, FaceProvider(*args))),
        sms=pick(settings.sms, lambda: StandInSms(http, settings.wechat.api_base, settings.sms.timeout,
                                                  settings.dev_mode), HttpSms),
        travel=pick(settings.travel, lambda: LocalTravel(travel, clock), HttpTravel, clock=clock),
        results=pick(settings.results, lambda: LocalResults(results), HttpResults),
    )
