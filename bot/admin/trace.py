"""流调 for the health authority: who entered a venue in a window, where a person went, and a notice to them.

Lists show masked names and document tails only. The full records leave the system only through `export`,
which an operator runs with a reason, and every export is written to the audit stream.
"""

from __future__ import annotations

import csv
import getpass
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.domain.clock import day_minute, to_second
from bot.domain.masking import mask_id_document, mask_name, mask_phone
from bot.engine.services import Services
from bot.features.imports import document
from bot.wechat.api import WeChatAPIError
from storage import RedisError
from storage.venues import DEFAULT_STAY, Entry

OUT_OF_WINDOW = 45015  # WeChat delivers customer-service messages only within 48 h of the user's last message


@dataclass(frozen=True, slots=True)
class Shown:
    at: str
    until: str  # when the visit ended
    stay: str  # its length, and whether 离场 said so or the venue's default stay is assumed
    name: str
    document: str
    whose: str  # 本人, or the relationship of a relative registered by a guardian, with the guardian's phone


def shown(entry: Entry) -> Shown:
    record = entry.record
    minutes = max(0, int(entry.until - entry.at) // 60)
    whose = f"{record['r']}, contact {mask_phone(record['p'])}" if record["r"] and record.get("p") else \
        record["r"] or "本人"
    return Shown(to_second(entry.at), to_second(entry.until), f"{minutes} min, {'离场' if entry.left else 'default'}",
                 mask_name(record["n"]), mask_id_document(record["t"], record["d"]), whose)


async def export(services: Services, scene: str, entries: list[Entry], path: Path, reason: str) -> None:
    """The full records, for the health authority; the only place plain data leaves the system. The file is
    its owner's alone from its first byte, and it is removed again if it cannot be finished or audited. It is
    always a new file: an existing path, or a link, is refused (FileExistsError, or OSError for a link), so
    the records can never land in a file someone else prepared."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with open(descriptor, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["time", "until", "venue", "name", "doc_type", "doc_no", "contact_phone",
                             "relationship"])
            for entry in entries:
                r = entry.record
                writer.writerow([to_second(entry.at), to_second(entry.until), entry.scene, r["n"], r["t"], r["d"],
                                 r["p"], r["r"] or "本人"])
        await services.audit.append("export", f"operator:{getpass.getuser()}", scene, repr(services.clock.time()),
                                    reason=f"{reason} ({len(entries)} records)")
    except BaseException:
        path.unlink(missing_ok=True)
        raise


@dataclass
class Notified:
    sent: int = 0
    outside_window: int = 0
    failed: int = 0
    untold: int = 0
    stopped: str = ""  # why the notice stopped before everyone was tried


async def notify(services: Services, entries: Iterable[Entry], template: str, venue: str) -> Notified:
    """One customer-service message to every follower who entered; each is told once, however often they
    entered, with the times of their visits and whom they registered (themselves, or a relative by masked
    name and relationship). Those WeChat will not reach (no message from them in 48 h) are counted, not
    retried."""
    outcome = Notified()
    visits: dict[str, list[dict[str, str]]] = {}
    for entry in sorted(entries, key=lambda e: e.at):
        record = entry.record
        visits.setdefault(record["o"], []).append({"at": day_minute(entry.at), "relationship": record["r"],
                                                   "name": mask_name(record["n"]) if record["r"] else ""})
    followers = list(visits)
    texts = await services.texts_for(followers)
    for tried, openid in enumerate(followers):
        try:
            await services.api.send_text(openid, texts[openid].render(template, venue=venue, visits=visits[openid]))
            outcome.sent += 1
        except RedisError as exc:  # the access token lives in Redis
            outcome.stopped, outcome.untold = str(exc), len(followers) - tried
            break
        except WeChatAPIError as exc:
            if exc.errcode == OUT_OF_WINDOW:
                outcome.outside_window += 1
            else:
                outcome.failed += 1
    return outcome


async def person_visits(services: Services, doc_type: str, doc_no: str, days: int) -> list[tuple[str, str, str]]:
    """(time, venue name, scene) of each venue a person entered in the last `days`; BadRow for a document that
    is not valid."""
    doc_type, number = document(doc_type, doc_no, services.clock.now().date())
    now = services.clock.time()
    index = services.codes.profiles.doc_index(doc_type, number)
    visits = []
    for scene, at, _ in await services.venues.visits(index, now - days * 86400, now, now):
        venue = await services.venues.get(scene)
        visits.append((to_second(at), venue.name if venue else "(deleted venue)", scene))
    return visits


@dataclass(frozen=True, slots=True)
class CaseVisit:
    scene: str
    venue: str  # its name
    at: float
    until: float
    left: bool  # 离场 ended it (else the venue's stay)


@dataclass(frozen=True, slots=True)
class Contacts:
    """Everyone whose stay at a venue overlapped one of the case's visits there (widened by the overlap)."""

    visit: CaseVisit
    entries: list[Entry]


async def contacts(services: Services, doc_type: str, doc_no: str, days: int, overlap: int
                   ) -> tuple[str, list[Contacts]]:
    """时空伴随 at venues: for each visit of the case in the last `days`, the entries at that venue whose stay
    (entry to 离场, or the venue's stay) overlaps the case's, widened by `overlap` seconds on each side; the
    case's own entries left out. With the case's document index. BadRow for a document that is not valid."""
    doc_type, number = document(doc_type, doc_no, services.clock.now().date())
    now, profiles, venues = services.clock.time(), services.codes.profiles, services.venues
    case = profiles.doc_index(doc_type, number)
    found = []
    for scene, at, visit in await venues.visits(case, now - days * 86400, now, now):
        venue = await venues.get(scene)
        stay = venue.stay if venue else DEFAULT_STAY
        left = await venues.exit_of(scene, visit, at)
        until = left if left is not None else at + stay
        # Someone whose stay overlaps entered at most `stay` before the case's widened start.
        start, end = at - overlap, until + overlap
        near = [e for e in await venues.entries(scene, start - stay, end, now, stay)
                if e.at < end and e.until > start and profiles.doc_index(e.record["t"], e.record["d"]) != case]
        found.append(Contacts(CaseVisit(scene, venue.name if venue else "(deleted venue)", at, until,
                                        left is not None), near))
    return case, found


class NoSuchTemplate(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no --text-template {name!r}; there are: {', '.join(known)}")


def notice_template(services: Services, name: str) -> str:
    """The template file of a trace notice by its short name; NoSuchTemplate lists the ones there are."""
    known = services.templates.env.list_templates(filter_func=lambda path: path.startswith("trace/"))
    if f"trace/{name}.txt" not in known:
        raise NoSuchTemplate(name, [path.removeprefix("trace/").removesuffix(".txt") for path in known])
    return f"trace/{name}.txt"
