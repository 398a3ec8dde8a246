"""Operator commands on appeals (申诉): list, show, answer. Names and documents are shown masked; `show` gives
the appellant's own words, as the operator needs them to decide."""

from __future__ import annotations

from bot.domain.clock import to_minute
from bot.domain.masking import mask_id_document, mask_name
from bot.engine.services import Services
from bot.usecases.appeals import REASONS
from storage.appeals import Appeal


def line(appeal: Appeal) -> str:
    whose = f"relative ({appeal.relationship})" if appeal.relationship else "self"
    due = f"due {to_minute(appeal.due_at)}" if appeal.state == "open" else f"answered {to_minute(appeal.resolved_at)}"
    return (f"{appeal.ticket}  {appeal.state:<8}  {to_minute(appeal.opened_at)}  {due}  {appeal.colour:<6}  "
            f"{mask_name(appeal.name)}  {mask_id_document(appeal.doc_type, appeal.doc_number)}  {whose}")


async def listed(services: Services, open_only: bool) -> list[Appeal]:
    found = []
    for ticket in await services.appeals.tickets(services.clock.time(), open_only=open_only):
        if (appeal := await services.appeals.get(ticket)) is not None:
            found.append(appeal)
    return found


async def shown(services: Services, appeal: Appeal) -> list[str]:
    """The whole appeal, and the document's colour history as the operator sees it (with who changed it)."""
    history = await services.status.registry.history(appeal.doc_index, services.clock.time(), 10)
    lines = [line(appeal),
             f"reason: {appeal.reason}. {REASONS[appeal.reason - 1] if 0 < appeal.reason <= len(REASONS) else '?'}",
             f"explanation: {appeal.text}",
             f"image: {appeal.media_id or '(none)'}"]
    if appeal.state != "open":
        lines.append(f"answer: {appeal.note}" + (f" (set {appeal.set_colour})" if appeal.set_colour else ""))
    lines.append("colour history (newest first):")
    lines += [f"  {to_minute(c.at)}  {c.old} -> {c.new}  reason {c.code or '-'}  via {c.channel}  by {c.actor}"
              for c in history] or ["  (no changes kept)"]
    return lines
