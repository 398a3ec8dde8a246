"""申诉: what the citizen's dialog and the operator's commands share (docs/colours.md, "Appeals").

An appeal is about one document's colour, made by its holder or one of its guardians: one open at a time per
document, `[appeals] per_day` a day per account. An operator answers it; an accepted answer may set a colour
(reason `appeal`, channel appeal), and every answer is audited and told to the appellant and every guardian.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.clock import local
from bot.engine.services import Services
from bot.features.status import UnknownReason
from storage.appeals import ACCEPTED, OPEN, REJECTED, Appeal
from storage.audit import pseudonym

REASONS = ("not_there", "tested_negative", "period_over", "not_me", "other")  # words: templates/_appeals.txt
EXPLANATION_LIMIT = 200


class Refused(Exception):
    """An appeal not opened, or not answered: the template that says why, and its values."""

    def __init__(self, template: str, /, **values: object) -> None:
        super().__init__(template)
        self.template, self.values = template, values


class CannotAnswer(Exception):
    """An operator's answer refused, in one line; nothing changed."""


@dataclass(frozen=True, slots=True)
class Subject:
    """Whose code an appeal is about, as the appellant sees it."""

    doc_index: str
    name: str
    doc_type: str
    doc_number: str
    relationship: str = ""  # "" for one's own
    number: int = 0  # the relative's number in the appellant's list


async def may_open(services: Services, doc_index: str) -> None:
    """Refused when the document has an appeal open."""
    if (ticket := await services.appeals.open_ticket(doc_index)) is not None:
        raise Refused("appeals/already_open.txt", ticket=ticket)


async def open_appeal(services: Services, openid: str, subject: Subject, colour: str, reason: int, text: str,
                      media_id: str) -> Appeal:
    """A new ticket, stored and audited; Refused when one is open for the document or the account's day's
    appeals are used up."""
    await may_open(services, subject.doc_index)
    settings, now = services.settings.appeals, services.clock.time()
    if not await services.limiter.allow(services.keys.bucket(openid, "appeal"), settings.per_day,
                                        settings.per_day / 86400, now):
        raise Refused("appeals/too_many.txt", per_day=settings.per_day)
    ticket = await services.appeals.next_ticket(local(now).strftime("%Y%m%d"))
    appeal = Appeal(ticket, subject.doc_index, openid, OPEN, now, now + settings.reply_days * 86400, 0.0, reason,
                    text, media_id, subject.name, subject.doc_type, subject.doc_number, subject.relationship,
                    subject.number, colour)
    if (held := await services.appeals.open(appeal)) is not None:  # another message of the same person won
        raise Refused("appeals/already_open.txt", ticket=held)
    await services.audit.append("appeal", pseudonym(services.vault, openid), subject.doc_index[:24], repr(now),
                                reason=ticket)
    return appeal


async def answer(services: Services, ticket: str, accept: bool, colour: str, note: str, actor: str) -> Appeal:
    """Answer an open appeal: the colour set when accepted with one (reason `appeal`), the answer audited and
    queued for the appellant and every guardian. CannotAnswer otherwise."""
    appeal = await services.appeals.get(ticket)
    if appeal is None:
        raise CannotAnswer(f"no appeal {ticket} (kept {services.settings.appeals.retention_days} days)")
    note = " ".join(note.split())[:500]
    if not note:
        raise CannotAnswer("--note must say something: it is the answer the citizen reads")
    if colour and not accept:
        raise CannotAnswer("--colour goes with --accept only")
    asked = None
    if colour:
        try:
            asked = services.status.ask(colour, "appeal", "appeal", actor, ticket=ticket)
        except UnknownReason as exc:
            raise CannotAnswer(str(exc)) from None
    now = services.clock.time()
    answered = await services.appeals.resolve(appeal, ACCEPTED if accept else REJECTED, note, colour, now)
    if answered is None:
        raise CannotAnswer(f"appeal {ticket} is {appeal.state} already: nothing changed")
    if asked is not None:
        await services.status.change_many([(appeal.doc_index, asked)])
    await services.notices.add_fields({"kind": "appeal", "ticket": ticket})
    await services.audit.append("answer", actor, appeal.doc_index[:24], repr(now),
                                reason=f"{ticket} {ACCEPTED if accept else REJECTED}"
                                       f"{f', set {colour}' if colour else ''}")
    return answered
