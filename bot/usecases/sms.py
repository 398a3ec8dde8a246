"""The SMS-code step that proves a phone, shared by the travel card and the claim: a code sent on arriving
(within the limits of storage/sms.py), typed back, 「重新发送」 for another. The dialog's data holds "phone"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot.domain.clock import time_of_day
from bot.domain.documents import normalize_number
from bot.domain.masking import mask_phone
from bot.domain.numerals import is_number
from bot.engine.context import Context
from bot.engine.dialogs import Invalid, Step
from bot.upstreams.http import ProviderUnavailable
from bot.usecases.answers import is_word
from bot.usecases.travel import claimed_phone, phone_index

# What SmsCodes.check answers, when it is not "ok", and what the citizen is told.
CODE_REFUSED = {"wrong": "sms/code_wrong.txt", "void": "sms/code_void.txt", "expired": "sms/code_expired.txt"}


def sender(body: str) -> Callable[[Context], Awaitable[None]]:
    """The step's `enter`: ask for a code within the limits and send it with the `body` template; what
    happened is kept for the prompt (sms/_sms_status.txt) to tell."""
    async def send_code(ctx: Context) -> None:
        services, data = ctx.services, ctx.state.data
        phone = data["phone"]
        owner = phone == await claimed_phone(ctx)  # the number's owner keeps an allowance strangers cannot use up
        outcome = await services.sms.issue(phone_index(ctx, phone), ctx.openid, services.clock.time(), owner,
                                           send_id=ctx.message.dedup_id())
        data["sms"], data["retry_at"] = outcome.result, time_of_day(outcome.retry_at) if outcome.retry_at else ""
        data["live"] = outcome.live
        services.metrics.inc("healthbot_sms_total", outcome=outcome.result)
        if outcome.result == "sent" and outcome.code:  # no code: this push's first attempt sent it
            try:
                await services.sms.send(phone, ctx.render(body, code=outcome.code))
            except ProviderUnavailable:
                data["sms"] = "unavailable"
                services.metrics.inc("healthbot_sms_total", outcome="unavailable")

    return send_code


def code_checker(view: Callable[[Context, Mapping[str, Any]], Mapping[str, Any]],
                 send: Callable[[Context], Awaitable[None]]) -> Callable[[str, Context], Awaitable[bool]]:
    """The step's validator: the code typed back, or 「重新发送」 (`send` again, answered with the dialog's `view`)."""
    async def sms_code(text: str, ctx: Context) -> bool:
        answer = normalize_number(text)
        if is_word(text, "重新发送"):
            await send(ctx)
            raise Invalid("sms/code_sent.txt", **view(ctx, ctx.state.data))
        if not (len(answer) == 6 and is_number(answer)):
            raise Invalid("sms/bad_code.txt")
        services = ctx.services
        outcome = await services.sms.check(phone_index(ctx, ctx.state.data["phone"]), ctx.openid, answer,
                                           services.clock.time())
        if outcome.result != "ok":
            raise Invalid(CODE_REFUSED[outcome.result], left=outcome.tries_left)
        ctx.state.data["proven_phone"] = ctx.state.data["phone"]
        return True

    return sms_code


def code_step(view: Callable[[Context, Mapping[str, Any]], Mapping[str, Any]], body: str,
              when: Callable[[Context, Mapping[str, Any]], bool] | None = None) -> Step:
    """The step itself: `body` is the SMS's template, `view` the dialog's (it must give sms_view's values).
    A phone proved once in the dialog is not asked for again: 「返回」 from a later step passes over it."""
    def applies(ctx: Context, data: Mapping[str, Any]) -> bool:
        return data.get("proven_phone") != data.get("phone") and (when is None or when(ctx, data))

    send = sender(body)
    return Step("code", "sms/ask_code.txt", code_checker(view, send), when=applies, enter=send)


def sms_view(data: Mapping[str, Any]) -> dict[str, Any]:
    """What sms/_sms_status.txt shows: the masked phone and what became of the last request."""
    return {"phone": mask_phone(data.get("phone", "")), "sms": data.get("sms", ""), "live": data.get("live", False),
            "retry_at": data.get("retry_at", "")}
