"""亲属码: a user who has claimed a code binds relatives without smartphones (ages 0–16 and 60+).

The rules are the seed's: 8 relatives per user, 3 users per relative, no face check for ages 0–6,
unbinding only 24 h after binding, offline codes valid 7 days. Eligibility is checked when binding; a
relative who later turns 17 stays bound (docs/relatives.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from bot.domain.clock import to_minute, to_second
from bot.domain.documents import RESIDENT_ID, birth_date, full_years, normalize_number, resident_id_ok
from bot.domain.masking import mask_name, mask_resident_id
from bot.domain.numerals import small_number
from bot.domain.offline import issue
from bot.domain.render import OfflineCard
from bot.engine.context import Context
from bot.engine.dialogs import Dialog, Invalid, Step
from bot.engine.router import Router
from bot.usecases.answers import expect_word, person_name
from bot.usecases.cards import current_status, proxy_line
from bot.usecases.face import face_step, face_view
from bot.usecases.holders import relative_person
from bot.usecases.relatives import ABOUT_A_RELATIVE, for_relative, numbered, relative_code
from bot.wechat.replies import Image, Reply, Text
from storage.profiles import Profile
from storage.relatives import Relative

router = Router("relatives")

RELATIONSHIPS = ("父亲", "母亲", "子女", "配偶", "祖父母", "外祖父母", "孙子女", "外孙子女", "其他")
YOUNGEST_WITH_FACE_CHECK = 7


def age_of(number: str, ctx: Context) -> int:
    born = birth_date(number)
    assert born is not None  # noqa: S101 - only called on validated numbers
    return full_years(born, ctx.now().date())


def eligible(age: int) -> bool:
    """「0-16岁未成年人及60岁以上老人」: both bounds included (民法典 §1259)."""
    return age <= 16 or age >= 60


# -- validators -----------------------------------------------------------------------------------------

async def relative_id(text: str, ctx: Context) -> str:
    number = normalize_number(text)
    if not resident_id_ok(number, ctx.now().date()):
        raise Invalid("claim/bad_id.txt")
    if not eligible(age_of(number, ctx)):
        raise Invalid("relatives/age_not_allowed.txt")
    store = ctx.services.relatives
    own = await ctx.profile()
    if own is not None and own.doc_index == store.index(number):
        raise Invalid("relatives/not_yourself.txt")
    if any(r.index == store.index(number) for r in await store.list(ctx.openid)):
        raise Invalid("relatives/duplicate.txt")
    if await store.places_taken(number) >= store.max_guardians:
        raise Invalid("relatives/relative_full.txt", limit=store.max_guardians)
    return number


ELDER_KIN = ("父亲", "母亲", "配偶", "祖父母", "外祖父母")  # never 16 or younger: a relative is 0–16 or 60+
YOUNGER_KIN = ("子女", "孙子女", "外孙子女")  # born after the guardian


async def relationship(text: str, ctx: Context) -> str:
    choice = normalize_number(text)
    if (n := small_number(choice, 3)) is not None and 1 <= n <= len(RELATIONSHIPS):
        picked = RELATIONSHIPS[n - 1]
    elif text.strip() in RELATIONSHIPS:
        picked = text.strip()
    else:
        raise Invalid("relatives/bad_relationship.txt", relationships=RELATIONSHIPS)
    number = ctx.state.data["doc_number"]
    age = age_of(number, ctx)
    if picked in ELDER_KIN and age <= 16:
        raise Invalid("relatives/impossible_relationship.txt", relationship=picked, age=age,
                      relationships=RELATIONSHIPS)
    if picked in YOUNGER_KIN and (own := await ctx.profile()) is not None and own.person.doc_type == RESIDENT_ID:
        guardian_born, relative_born = birth_date(own.person.doc_number), birth_date(number)
        if guardian_born and relative_born and relative_born <= guardian_born:
            raise Invalid("relatives/impossible_relationship.txt", relationship=picked, age=age,
                          relationships=RELATIONSHIPS)
    return picked


def needs_face_check(ctx: Context, data: Mapping[str, Any]) -> bool:
    return age_of(data["doc_number"], ctx) >= YOUNGEST_WITH_FACE_CHECK


def binding_view(ctx: Context, data: Mapping[str, Any]) -> Mapping[str, Any]:
    number = data.get("doc_number", "")
    return {
        "name": mask_name(data.get("name", "")),
        "doc_number": mask_resident_id(number) if number else "",
        "relationship": data.get("relationship", ""),
        "relationships": RELATIONSHIPS,
        "skip_face": bool(number) and not needs_face_check(ctx, data),
        **face_view(data),
    }


# What RelativeStore.bind answers, when it is not "ok", and what the citizen is told.
REFUSED = {
    "duplicate": "relatives/refused_duplicate.txt",
    "user_full": "relatives/refused_user_full.txt",
    "relative_full": "relatives/refused_relative_full.txt",
    "busy": "relatives/refused_busy.txt",
}


async def complete_binding(ctx: Context, data: dict[str, Any]) -> Reply:
    services = ctx.services
    store = services.relatives
    number = store.next_number(await store.list(ctx.openid))
    outcome = await store.bind(ctx.openid, data["name"], data["doc_number"], data["relationship"],
                               services.clock.time(), number)
    if outcome.result != "ok":
        return ctx.text(REFUSED[outcome.result], max_per_user=services.relatives.max_per_user,
                        limit=services.relatives.max_guardians)
    profile = await ctx.profile()
    relatives = await services.relatives.list(ctx.openid)
    bound = next(r for r in relatives if r.index == services.relatives.index(data["doc_number"]))
    return await relative_code(ctx, profile, bound)


binding = router.dialog(Dialog(
    name="bind_relative",
    restart_keyword="添加亲属",
    steps=(
        Step("name", "relatives/ask_name.txt", person_name),
        Step("doc_number", "relatives/ask_id.txt", relative_id),
        Step("relationship", "relatives/ask_relationship.txt", relationship),
        Step("confirm", "relatives/summary.txt", expect_word("确认绑定", "relatives/need_confirm.txt")),
        Step("agreement", "relatives/agreement.txt", expect_word("同意协议并认证", "relatives/need_agreement.txt")),
        face_step(binding_view, needs_face_check),
        Step("commitment", "relatives/commitment.txt", expect_word("确认承诺", "relatives/need_commitment.txt")),
    ),
    on_complete=complete_binding,
    view=binding_view,
))


async def complete_unbinding(ctx: Context, data: dict[str, Any]) -> Reply:
    services = ctx.services
    outcome = await services.relatives.unbind(ctx.openid, data["index"], services.clock.time())
    if outcome.result == "early":
        return ctx.text("relatives/unbind_early.txt", name=data["masked_name"], **time_left(ctx, outcome.bound_at))
    if outcome.result == "missing":
        return ctx.text("relatives/already_unbound.txt", name=data["masked_name"])
    await services.codes.profiles.forget_code(ctx.openid, data["index"])
    return ctx.text("relatives/unbound.txt", name=data["masked_name"])


unbinding = router.dialog(Dialog(
    name="unbind_relative",
    restart_keyword="亲属码",
    steps=(Step("confirm", "relatives/confirm_unbind.txt", expect_word("确认解绑", "relatives/need_unbind.txt")),),
    on_complete=complete_unbinding,
    view=lambda ctx, data: {"name": data["masked_name"]},
))


# -- routes -----------------------------------------------------------------------------------------------


@router.keywords("亲属码", "帮他人领取", "家人", "帮他人领取防疫健康信息码", "我的亲属", "relatives", "family",
                 when=ABOUT_A_RELATIVE)
@router.click("RELATIVES", when=ABOUT_A_RELATIVE)
async def relatives_page(ctx: Context) -> Reply:
    rows = []
    for relative, row in zip(ctx.relatives, numbered(ctx.relatives), strict=True):
        status = await current_status(ctx, partial(relative_person, relative), relative.index)
        rows.append({**row, "colour": status.colour if not isinstance(status, Text) else "",
                     "bound": to_minute(relative.bound_at)})
    return ctx.text("relatives/page.txt", rows=rows, limit=ctx.services.relatives.max_per_user)


@router.keywords("添加亲属", "绑定亲属", "添加家人", "绑定家人", "add relative", when=ABOUT_A_RELATIVE)
async def start_binding(ctx: Context) -> Reply:
    store = ctx.services.relatives
    if len(ctx.relatives) >= store.max_per_user:
        return ctx.text("relatives/refused_user_full.txt", max_per_user=store.max_per_user)
    return await binding.start(ctx)


@router.regex(r"(查看亲属码|查看亲属|relative)\s*(?P<n>\d{1,2})?", when=ABOUT_A_RELATIVE)
@router.regex(r"亲属码\s*(?P<n>\d{1,2})", when=ABOUT_A_RELATIVE)
@for_relative("查看亲属码")
async def view_relative(ctx: Context, profile: Profile, relative: Relative) -> Reply:
    return await relative_code(ctx, profile, relative)


@router.regex(r"(解绑|解除绑定|unbind)\s*(?P<n>\d{1,2})?", when=ABOUT_A_RELATIVE)
@for_relative("解绑")
async def start_unbinding(ctx: Context, profile: Profile, relative: Relative) -> Reply:
    wait = ctx.services.relatives.unbind_after - (ctx.services.clock.time() - relative.bound_at)
    if wait > 0:
        return ctx.text("relatives/unbind_early.txt", name=mask_name(relative.name),
                        **time_left(ctx, relative.bound_at))
    return await unbinding.start(ctx, {"index": relative.index, "masked_name": mask_name(relative.name)})


@router.regex(r"(下载离线码|离线码|offline code)\s*(?P<n>\d{1,2})?", when=ABOUT_A_RELATIVE)
@router.click("OFFLINE_CODE", when=ABOUT_A_RELATIVE)
@for_relative("下载离线码")
async def offline_code(ctx: Context, profile: Profile, relative: Relative) -> Reply:
    services = ctx.services
    status = await current_status(ctx, partial(relative_person, relative), relative.index, mask_name(relative.name))
    if isinstance(status, Text):
        return status
    now = services.clock.time()
    token = issue(services.signer, relative.index, status.colour, mask_name(relative.name), now,
                  services.settings.relatives.offline_valid_days)
    card = OfflineCard(
        title=ctx.render("cards/offline_title.txt"),
        name=mask_name(relative.name),
        subtitle=proxy_line(ctx.templates, profile, relative),
        colour=status.colour,
        stamp=ctx.render("cards/offline_stamp.txt", valid_until=to_minute(token["exp"])),
        colour_line=ctx.render("cards/offline_colour.txt", colour=status.colour),
        generated_line=ctx.render("cards/offline_generated.txt", generated=to_second(now)),
        note=ctx.render("relatives/offline_note.txt"),
        qr_payload=f"{services.settings.public_url}/verify?t={token['token']}",
        elder=ctx.prefs.elder_for(relative.index),
    )
    png = await services.renderer.render_offline(card)
    await services.relatives.audit(ctx.openid, "offline", relative.index, now)
    return Image(png=png, fallback=ctx.render("relatives/offline_failed.txt"))


# -- helpers ----------------------------------------------------------------------------------------------


def time_left(ctx: Context, bound_at: float) -> dict[str, int]:
    seconds = max(0, int(bound_at + ctx.services.relatives.unbind_after - ctx.services.clock.time()))
    minutes = -(-seconds // 60)
    return {"hours": minutes // 60, "minutes": minutes % 60,
            "after_hours": ctx.services.settings.relatives.unbind_after_hours}
