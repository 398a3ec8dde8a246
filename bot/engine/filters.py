"""Route filters, as aiogram's: a filter runs before its route's handler and either lets it run, having put
what it found in the context, or answers for it."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.wechat.replies import Reply, Text

if TYPE_CHECKING:
    from bot.engine.context import Context


class Filter(Protocol):
    def __call__(self, ctx: Context) -> Awaitable[Reply | None]:
        """None: the handler runs; else the reply the user gets instead."""
        ...


@dataclass(frozen=True, slots=True)
class Claimed:
    """The user has claimed their own code (ctx.claimed), and with `relatives`, their relatives are listed
    (ctx.relatives). Otherwise the answer is claim_first.txt for this `purpose`: the service's template folder,
    whose needs_claim.txt names what needs the claim ("relatives" has a text of its own)."""

    purpose: str
    relatives: bool = False

    async def __call__(self, ctx: Context) -> Text | None:
        profile = await ctx.profile()
        if profile is None:
            return ctx.text("claim_first.txt", purpose=self.purpose)
        ctx.claimed = profile
        if self.relatives:
            ctx.relatives = await ctx.services.relatives.list(ctx.openid)
        return None
