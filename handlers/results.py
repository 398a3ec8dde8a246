"""核酸检测结果: the latest results for oneself or relative N, and the code to show at the testing site."""

from __future__ import annotations

from bot.domain.clock import local, to_minute
from bot.domain.masking import mask_name
from bot.engine.context import Context
from bot.engine.filters import Claimed
from bot.engine.router import Router
from bot.upstreams.http import ProviderUnavailable
from bot.usecases.cards import code_reply
from bot.usecases.holders import relative_person
from bot.usecases.relatives import ABOUT_A_RELATIVE, for_relative, relative_code, then_each_relative
from bot.wechat.replies import Reply
from storage.keys import UserHash
from storage.profiles import Person, Profile
from storage.relatives import Relative
from storage.results import TestResult

router = Router("results")


def days_since_sampling(result: TestResult, ctx: Context) -> int:
    """Calendar days from the sampling date (docs/domain.md §4.5): sampled yesterday is 1 day, whatever the hour."""
    sampled = local(result.sampled_at).date()
    return (ctx.now().date() - sampled).days


async def results_text(ctx: Context, person: Person, doc_index: str, whose: str) -> Reply:
    try:
        results = await ctx.services.results.results(lambda: person, doc_index)
    except ProviderUnavailable:
        return ctx.text("results/unavailable.txt")
    rows = [{"result": r.result, "sampled": to_minute(r.sampled_at), "reported": to_minute(r.reported_at),
             "institution": r.institution, "days": days_since_sampling(r, ctx)} for r in results]
    return ctx.text("results/list.txt", whose=whose, rows=rows)


@router.keywords("核酸", "核酸检测结果", "核酸结果", "核酸检测", "test results", "results", when=Claimed("results"))
@router.click("TEST_RESULTS", when=Claimed("results"))
async def own_results(ctx: Context) -> Reply:
    profile = ctx.claimed
    return await then_each_relative(ctx, await results_text(ctx, profile.person, profile.doc_index, ""),
                                    "results/relatives_hint.txt")


@router.regex(r"(核酸|核酸结果|核酸检测结果|test results|results)\s*(?P<n>\d{1,2})", when=ABOUT_A_RELATIVE)
@for_relative("核酸")
async def relative_results(ctx: Context, profile: Profile, relative: Relative) -> Reply:
    return await results_text(ctx, relative_person(relative), relative.index, mask_name(relative.name))


@router.keywords("核酸登记", "test check-in", reads=(UserHash.TRAVEL_VERIFIED, UserHash.OWN_IMAGE),
                 when=Claimed("relatives"))
async def register_self(ctx: Context) -> Reply:
    """At the testing site the code is shown for registration (「在做核酸检测时，可展示亲属码」)."""
    return await code_reply(ctx, ctx.claimed)


@router.regex(r"(?:核酸登记|test check-in)\s*(?P<n>\d{1,2})", when=ABOUT_A_RELATIVE)
@for_relative("核酸登记")
async def register_relative(ctx: Context, profile: Profile, relative: Relative) -> Reply:
    return await relative_code(ctx, profile, relative)
