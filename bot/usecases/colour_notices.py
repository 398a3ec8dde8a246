"""What a change of colour, or an appeal's answer, says to each person it concerns: the holder of the document
and every guardian who bound it as a relative (docs/colours.md, "Notices").

A notice is a template message when `[notices] colour_template` (or `appeal_template`) names one, with a link to
the live code; otherwise a customer-service message, which WeChat delivers only within 48 h of the user's last
message (outside it the notice is counted untold, never retried).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.domain.clock import to_minute
from bot.domain.masking import mask_name
from bot.engine.prefs import DEFAULT, Prefs
from bot.engine.services import Services
from bot.features.status import reason_templates
from bot.ops.templates import Templates
from bot.usecases.cards import live_link
from bot.wechat.api import WeChatAPIError
from storage.status import HistoryEntry

OUTSIDE_WINDOW, UNFOLLOWED = 45015, 43004


@dataclass(frozen=True, slots=True)
class Recipient:
    openid: str
    name: str  # the person the notice is about, unmasked here; every text masks it
    relationship: str  # "" for the holder; a guardian's word for the relative (父亲)
    number: int = 0  # the relative's number in the guardian's list (申诉 N)
    prefs: Prefs = DEFAULT  # the recipient's language and 长辈模式: every text they get is in them

    def texts(self, services: Services) -> Templates:
        return self.prefs.texts(services.texts)


@dataclass(frozen=True, slots=True)
class Notice:
    text: str  # the customer-service message
    template_id: str  # "" : send `text`
    data: dict[str, str]
    url: str


async def recipients(services: Services, doc_index: str) -> list[Recipient]:
    """The holder who claimed the document, and every guardian who bound it: each once."""
    found: dict[str, Recipient] = {}
    for openid in await services.codes.profiles.holders(doc_index):
        profile = await services.codes.profiles.load(openid)
        if profile is not None and profile.doc_index == doc_index:
            found[openid] = Recipient(openid, profile.person.name, "")
    for openid in await services.relatives.guardian_openids(doc_index):
        relative = next((r for r in await services.relatives.list(openid) if r.index == doc_index), None)
        if relative is not None and openid not in found:
            found[openid] = Recipient(openid, relative.name, relative.relationship, relative.number)
    stored = await services.prefs.get_many(found)
    return [replace(to, prefs=Prefs.decode(stored[openid])) for openid, to in found.items()]


async def colour_notice(services: Services, to: Recipient, doc_index: str, entry: HistoryEntry) -> Notice:
    render = to.texts(services).render
    label = render(reason_templates(entry.code)[0]) if entry.code else ""
    clears = render(reason_templates(entry.code)[1]) if entry.code and entry.new != "green" else ""
    url = await _link(services, to, doc_index)
    values = {"name": mask_name(to.name), "whose": to.relationship, "number": to.number, "old": entry.old,
              "new": entry.new, "label": label, "clears": clears, "channel": entry.channel, "ticket": entry.ticket,
              "at": to_minute(entry.at), "url": url}
    return _notice(to.texts(services), "colour", services.settings.notices.colour_template, values)


async def appeal_notice(services: Services, to: Recipient, doc_index: str, ticket: str, accepted: bool,
                        note: str, at: float) -> Notice:
    url = await _link(services, to, doc_index)
    values = {"name": mask_name(to.name), "whose": to.relationship, "number": to.number, "ticket": ticket,
              "accepted": accepted, "note": note, "at": to_minute(at), "url": url}
    return _notice(to.texts(services), "appeal", services.settings.notices.appeal_template, values)


async def tell(services: Services, openid: str, notice: Notice) -> str:
    """Send one notice; the outcome as counted: sent, outside_window, unsubscribed or failed (after the API
    client's own retries)."""
    try:
        if notice.template_id:
            await services.api.send_template(openid, notice.template_id, notice.url, notice.data)
        else:
            await services.api.send_text(openid, notice.text)
    except WeChatAPIError as exc:
        return {OUTSIDE_WINDOW: "outside_window", UNFOLLOWED: "unsubscribed"}.get(exc.errcode, "failed")
    except Exception:
        return "failed"
    return "sent"


async def _link(services: Services, to: Recipient, doc_index: str) -> str:
    title = to.texts(services).render("cards/relative_title.txt" if to.relationship else "cards/code_title.txt")
    token = await live_link(services, to.openid, doc_index, title, services.settings.notices.link_hours * 3600)
    return f"{services.settings.public_url}/code?t={token}&lang={to.prefs.lang}"


def _notice(texts: Templates, kind: str, template_id: str, values: dict[str, object]) -> Notice:
    """The template message's data when there is a template id, else the customer-service text: only the one
    that is sent is rendered."""
    render = texts.render
    if template_id:
        return Notice("", template_id, _fields(render(f"notices/{kind}_fields.txt", **values)), str(values["url"]))
    return Notice(render(f"notices/{kind}.txt", **values), "", {}, str(values["url"]))


def _fields(rendered: str) -> dict[str, str]:
    """A template message's data from its template: one `key: value` a line."""
    pairs = (line.partition(":") for line in rendered.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, _, value in pairs}
