"""疫苗接种记录: one's own doses (疫苗接种, 接种记录) or relative N's (接种记录 N), and what they add up to."""

from __future__ import annotations

from bot.domain.masking import mask_name
from bot.engine.context import Context
from bot.engine.filters import Claimed
from bot.engine.router import Router
from bot.features.vaccination import VaccinationService, state_of
from bot.upstreams.http import ProviderUnavailable
from bot.usecases.holders import relative_person
from bot.usecases.relatives import ABOUT_A_RELATIVE, for_relative, then_each_relative
from bot.wechat.replies import Reply, Text
from storage.profiles import Person, Profile
from storage.relatives import Relative

router = Router("vaccination")


async def doses_text(ctx: Context, person: Person, doc_index: str, whose: str) -> Text:
    try:
        doses = await ctx.services.plugin(VaccinationService).doses(lambda: person, doc_index)
    except ProviderUnavailable:
        return ctx.text("vaccination/unavailable.txt")
    return ctx.text("vaccination/list.txt", whose=whose, doses=doses, state=state_of(doses))


@router.keywords("疫苗接种", "接种记录", "疫苗接种记录", "新冠疫苗", "vaccination", when=Claimed("vaccination"))
async def own_doses(ctx: Context) -> Reply:
    profile = ctx.claimed
    return await then_each_relative(ctx, await doses_text(ctx, profile.person, profile.doc_index, ""),
                                    "vaccination/relatives_hint.txt")


@router.regex(r"(接种记录|疫苗接种|vaccination)\s*(?P<n>\d{1,2})", when=ABOUT_A_RELATIVE)
@for_relative("接种记录")
async def relative_doses(ctx: Context, profile: Profile, relative: Relative) -> Reply:
    return await doses_text(ctx, relative_person(relative), relative.index, mask_name(relative.name))
