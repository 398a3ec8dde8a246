"""Whose code a scan shows, and its colour now: one answer for the guard's page, the live pages, /verify and
`healthbot verify`. The holder is loaded again on every scan, so a deregistered user or an unbound relative
stops resolving at once, and the colour is never the one the image was made with."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bot.domain.clock import to_second
from bot.domain.documents import RESIDENT_ID
from bot.domain.masking import mask_name
from bot.domain.offline import Verdict
from bot.domain.offline import verify as verify_offline
from bot.engine.services import Services
from bot.ops.templates import Templates
from bot.upstreams.http import ProviderUnavailable
from bot.upstreams.status import HealthStatus
from bot.usecases.facts import code_facts
from storage import RedisError
from storage.audit import pseudonym
from storage.codes import Issued
from storage.profiles import Person, Profile
from storage.relatives import Relative


@dataclass(frozen=True, slots=True)
class Holder:
    openid: str  # the account the code belongs to: the citizen, or the guardian of a relative
    person: Person
    doc_index: str
    profile: Profile  # the account's own profile (the guardian's, for a relative)
    relative: Relative | None = None


# What the old account of a code that moved is told, by customer-service message or at its next message.
MOVED_NOTICE = "claim/moved.txt"


async def take_document(services: Services, openid: str, doc_index: str, *, face_passed: bool) -> list[str]:
    """Make `openid` the document's one holder account: [] when it is. Otherwise, with nothing changed, the
    accounts that hold it and that this claim may not take it from: no face verification passed, or
    `[identity] takeover` is "refuse". A displaced account is dealt with by `settle_takeover`, once the new
    profile is saved."""
    takeover = face_passed and services.settings.identity.takeover == "face"
    return await services.codes.profiles.take(doc_index, openid, takeover=takeover)


async def settle_takeover(services: Services, doc_index: str, new: str, now: float) -> None:
    """Each account the document moved away from: audited (both pseudonymous), its code gone, the notice
    queued. Safe to run again (a claim retried after a crash): the same audit id, no second move, and the
    sender sends a notice once."""
    profiles, keep = services.codes.profiles, services.settings.identity.moved_notice_days * 86400
    for old in await profiles.displaced(doc_index):
        entry = hashlib.sha256(f"takeover:{doc_index}:{old}:{new}".encode()).hexdigest()[:16]
        await services.audit.append("takeover", pseudonym(services.vault, new), doc_index, repr(now), entry_id=entry,
                                    other=pseudonym(services.vault, old))
        await profiles.move_out(old, doc_index, now, MOVED_NOTICE, keep)
        await services.notices.add(old, "moved")
        await profiles.settled(old, doc_index)


def relative_person(relative: Relative) -> Person:
    return Person(relative.name, RESIDENT_ID, relative.doc_number)


async def find_holder(services: Services, openid: str, doc_index: str) -> Holder | None:
    """The holder of `doc_index` as seen from account `openid`, or None when that code is no longer theirs."""
    profile = await services.codes.profiles.load(openid)
    if profile is None:
        return None
    if doc_index == profile.doc_index:
        return Holder(openid, profile.person, doc_index, profile)
    relative = next((r for r in await services.relatives.list(openid) if r.index == doc_index), None)
    if relative is None:
        return None
    return Holder(openid, relative_person(relative), doc_index, profile, relative)


async def holder_of_document(services: Services, doc_index: str) -> Holder | None:
    """Any current holder of a document: a citizen who claimed it, or a guardian who bound it."""
    for openid in [*await services.codes.profiles.holders(doc_index),
                   *await services.relatives.guardian_openids(doc_index)]:
        if (holder := await find_holder(services, openid, doc_index)) is not None:
            return holder
    return None


async def status_now(services: Services, doc_index: str, holder: Holder | None) -> HealthStatus | None:
    """The colour at this moment (with its reason, which only the holder's side may show), or None when it
    cannot be confirmed. Never a guess, never a cached image's.

    Without a holder only the local registry can answer (an offline code whose relative was unbound)."""
    try:
        if holder is not None:
            return await services.status.status(lambda: holder.person, doc_index)
        if services.status.local:
            return await services.status.provider.status(_nobody, doc_index)
    except (ProviderUnavailable, RedisError):
        pass
    return None


def _nobody() -> Person:
    raise AssertionError("the local registry never asks for the person")


async def holder_facts(services: Services, texts: Templates, holder: Holder) -> tuple[str, ...]:
    """四码一屏's lines for the guard's page and `verify`: the same facts the holder's card shows."""
    return await code_facts(services, texts, lambda: holder.person, holder.doc_index,
                            "" if holder.relative else holder.openid)


async def colour_now(services: Services, doc_index: str, holder: Holder | None) -> str:
    """The colour at this moment, or "" when it cannot be confirmed: all a guard is shown, never the reason."""
    status = await status_now(services, doc_index, holder)
    return status.colour if status else ""


# What a guard must do with an offline code, and `healthbot verify`'s exit status for it (docs/operations.md).
OUTCOMES = {"green": 0, "yellow": 10, "red": 11, "expired": 12, "forged": 13, "unknown": 14, "unavailable": 15}


@dataclass(frozen=True, slots=True)
class OfflineCheck:
    verdict: Verdict
    current: str  # the colour now, "" when it cannot be confirmed
    outcome: str  # a key of OUTCOMES
    facts: tuple[str, ...] = ()  # 四码一屏, when the holder is known

    @property
    def exit_status(self) -> int:
        return OUTCOMES[self.outcome]

    def report(self) -> dict[str, object]:
        """What /verify answers in JSON and `healthbot verify` prints."""
        verdict = self.verdict
        return {"state": verdict.state, "outcome": self.outcome, "exit_status": self.exit_status,
                "name": verdict.name, "colour_at_issue": verdict.colour, "issued": verdict.issued,
                "expires": verdict.expires, "current_colour": self.current, "facts": list(self.facts)}


async def check_offline(services: Services, token: str, texts: Templates | None = None) -> OfflineCheck:
    """Signature first (no I/O); then, for a genuine code, the holder's colour now. An expired one stays
    expired whatever the colour: that is only shown, for the record, when its holder is known."""
    verdict = verify_offline(services.signer, token, services.clock.time())
    if verdict.state not in ("valid", "expired"):
        return OfflineCheck(verdict, "", verdict.state)
    expired = verdict.state == "expired"
    try:
        holder = await holder_of_document(services, verdict.subject)
    except RedisError:
        return OfflineCheck(verdict, "", "expired" if expired else "unavailable")
    if holder is None and (expired or not services.status.local):
        # nobody holds it now, and only the registry could tell (an expired code's colour is not looked up)
        return OfflineCheck(verdict, "", "expired" if expired else "unknown")
    current = await colour_now(services, verdict.subject, holder)
    facts = await holder_facts(services, texts or services.templates, holder) if holder is not None else ()
    return OfflineCheck(verdict, current, "expired" if expired else current or "unavailable", facts)


@dataclass(frozen=True, slots=True)
class OnlineCheck:
    """A citizen's online code, read from its QR as the guard's page reads it."""

    outcome: str  # a key of OUTCOMES; "expired": the QR's token no longer resolves
    name: str = ""  # masked
    current: str = ""
    issued: str = ""
    facts: tuple[str, ...] = ()  # 四码一屏

    @property
    def exit_status(self) -> int:
        return OUTCOMES[self.outcome]

    def report(self) -> dict[str, object]:
        return {"outcome": self.outcome, "exit_status": self.exit_status, "name": self.name,
                "current_colour": self.current, "issued": self.issued, "facts": list(self.facts)}


async def scanned(services: Services, qr_token: str) -> tuple[Issued, Holder | None] | None:
    """An online code's QR token as a scan reads it: its record while it resolves (`[render] qr_token_ttl`)
    and its holder now (None when the code is no longer theirs); None for an unknown or expired token.
    Raises RedisError."""
    issued = await services.codes.tokens.resolve(qr_token)
    if issued is None or services.clock.time() - issued.at > services.settings.render.qr_token_ttl:
        return None
    return issued, await find_holder(services, issued.openid, issued.doc_index)


async def check_online(services: Services, qr_token: str, texts: Templates | None = None) -> OnlineCheck:
    """The holder's colour now behind an online code's QR token, as `/c/<token>` shows it."""
    try:
        found = await scanned(services, qr_token)
    except RedisError:
        return OnlineCheck("unavailable")
    if found is None:
        return OnlineCheck("expired")
    issued, holder = found
    if holder is None:
        return OnlineCheck("unknown")
    current = await colour_now(services, issued.doc_index, holder)
    return OnlineCheck(current or "unavailable", mask_name(holder.person.name), current, to_second(issued.at),
                       await holder_facts(services, texts or services.templates, holder))
