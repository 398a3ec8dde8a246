"""防疫健康信息码: claim one's own code after a real-name check, see it as an image, or deregister it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from typing import Any

from bot.domain.documents import (
    DOCUMENT_BY_CODE,
    DOCUMENT_CODES,
    DOCUMENT_TYPES,
    PHONE_RE,
    RESIDENT_ID,
    looks_like_hmt_resident_id,
    normalize_name,
    normalize_number,
    resident_id_ok,
    visitor_phone,
)
from bot.domain.masking import mask_id_document, mask_name, mask_phone
from bot.domain.numerals import small_number
from bot.engine.context import Context
from bot.engine.dialogs import Dialog, Invalid, Step
from bot.engine.router import Router
from bot.upstreams.http import ProviderUnavailable
from bot.usecases.answers import expect_word, person_name
from bot.usecases.cards import code_reply
from bot.usecases.checkin import check_in, last_venue
from bot.usecases.face import face_step, face_view
from bot.usecases.holders import settle_takeover, take_document
from bot.usecases.notices import show_held_notice
from bot.usecases.sms import code_step, sms_view
from bot.wechat.replies import Reply
from storage.audit import pseudonym
from storage.keys import UserHash
from storage.profiles import Person, moved_of

router = Router("health_code")
router.before(show_held_notice)  # a takeover's notice that could not be sent: the old account's next message


# -- validators: each returns the clean value or raises Invalid with the template to answer --------------

def resident_id(text: str, ctx: Context) -> str:
    number = normalize_number(text)
    today = ctx.now().date()
    if looks_like_hmt_resident_id(number, today) or _looks_like_other_document(number, today):
        raise Invalid("claim/use_hmt_entry.txt")
    if not resident_id_ok(number, today):
        raise Invalid("claim/bad_id.txt")
    return number


def _looks_like_other_document(number: str, today: date) -> bool:
    return bool(DOCUMENT_BY_CODE["hk_mo_permit"].pattern.match(number)) or DOCUMENT_BY_CODE["foreigner_pr"].valid(
        number, today)


def phone(text: str, ctx: Context) -> str:
    number = normalize_number(text)
    if PHONE_RE.match(number):
        return number
    hmt = ctx.state.dialog == hmt_claim.name
    prefixes = ctx.services.settings.sms.international_prefixes
    if hmt and (visitor := visitor_phone(text, prefixes)):
        return visitor
    raise Invalid("claim/bad_phone.txt", hmt=hmt, extra_prefixes=prefixes)


def document_type(text: str, ctx: Context) -> str:
    choice = normalize_number(text)
    if (n := small_number(choice, 3)) is not None and 1 <= n <= len(DOCUMENT_TYPES):
        return DOCUMENT_TYPES[n - 1].code
    raise Invalid("claim/bad_doc_type.txt", types=DOCUMENT_CODES)


def document_number(text: str, ctx: Context) -> str:
    kind = DOCUMENT_BY_CODE[ctx.state.data["doc_type"]]
    number = normalize_number(text)
    if not kind.valid(number, ctx.now().date()):
        raise Invalid("claim/bad_document.txt", doc_type=kind.code)
    return number


def nationality(text: str, ctx: Context) -> str:
    value = normalize_name(text)
    if not 2 <= len(value) <= 40 or any(ch.isdigit() for ch in value):
        raise Invalid("claim/bad_nationality.txt")
    return value


def is_passport(ctx: Context, data: Mapping[str, Any]) -> bool:
    return data.get("doc_type") == "passport"


def held_elsewhere(validate: Callable[[str, Context], str]) -> Callable[[str, Context], Awaitable[str]]:
    """A document step whose number another account holds as its code: with `[identity] takeover = "face"`
    the claim goes on and passes face verification before the code moves; with "refuse" it stops here."""
    async def check(text: str, ctx: Context) -> str:
        number = validate(text, ctx)
        services, data = ctx.services, ctx.state.data
        index = services.codes.profiles.doc_index(data.get("doc_type", RESIDENT_ID), number)
        others, _ = await services.codes.profiles.others_holding(index, ctx.openid)
        data.pop("takeover", None)
        if others and services.settings.identity.takeover == "refuse":
            await audit_refused(ctx, index, others)
            raise Invalid("claim/held_elsewhere.txt")
        if others:
            data["takeover"] = True
        return number

    return check


async def audit_refused(ctx: Context, index: str, others: list[str]) -> None:
    services = ctx.services
    await services.audit.append("refused", pseudonym(services.vault, ctx.openid), index,
                                repr(services.clock.time()), other=pseudonym(services.vault, others[0]))


def needs_face(ctx: Context, data: Mapping[str, Any]) -> bool:
    """A takeover, or every self-claim where the deployment asks for it (no exemption by age: the claimant
    is the person)."""
    return bool(data.get("takeover")) or ctx.services.settings.identity.face_on_claim


# -- the two claim dialogs --------------------------------------------------------------------------------

def summary_view(ctx: Context, data: Mapping[str, Any]) -> Mapping[str, Any]:
    """What prompts may show: masked values only (nothing to mask before the answers: most prompts)."""
    doc_type = data.get("doc_type", RESIDENT_ID)
    name, number, phone = data.get("name", ""), data.get("doc_number", ""), data.get("phone", "")
    return {
        "name": mask_name(name) if name else "",
        "doc_type": doc_type,
        "doc_number": mask_id_document(doc_type, number) if number else "",
        "phone": mask_phone(phone) if phone else "",
        "nationality": data.get("nationality", ""),
        "types": DOCUMENT_CODES,
        "hmt": data.get("entry") == "hmt",
        "extra_prefixes": ctx.services.settings.sms.international_prefixes,
        **{k: v for k, v in sms_view(data).items() if k != "phone"},
        **face_view(data),
    }


async def complete_claim(ctx: Context, data: dict[str, Any]) -> Reply:
    person = Person(data["name"], data.get("doc_type", RESIDENT_ID), data["doc_number"], data["phone"],
                    data.get("nationality", ""))
    dialog = hmt_claim if person.doc_type != RESIDENT_ID else claim
    try:
        verdict = await ctx.services.codes.identity.verify(person)
    except ProviderUnavailable:
        dialog.resume(ctx, data, "confirm")
        return ctx.text("claim/identity_unavailable.txt")
    if not verdict.ok:
        kept = {k: v for k, v in data.items() if k in ("consent", "doc_type", "entry", "proven_phone")}
        dialog.resume(ctx, kept, "name" if person.doc_type == RESIDENT_ID else "doc_number")
        return ctx.text("claim/identity_failed.txt", reason=verdict.reason)
    services = ctx.services
    index = services.codes.profiles.doc_index(person.doc_type, person.doc_number)
    if holders := await take_document(services, ctx.openid, index, face_passed=data.get("face") is True):
        # another account claimed it since the document step: as there, face verification or a refusal
        if services.settings.identity.takeover == "refuse":
            await audit_refused(ctx, index, holders)
            return ctx.text("claim/held_elsewhere.txt")
        return await dialog.reenter(ctx, {**data, "takeover": True}, "face")
    now = services.clock.time()
    profile = await services.codes.profiles.save(ctx.openid, person, now, phone_proven_at=now)
    await settle_takeover(services, index, ctx.openid, now)
    if (venue := await last_venue(ctx, "pending")) is not None:  # the claim began with a 场所码 scan
        return await check_in(ctx, profile, venue)
    return await code_reply(ctx, profile, fresh=True)


def claim_steps(*middle: Step) -> tuple[Step, ...]:
    return (
        Step("consent", "claim/consent.txt", expect_word("同意", "claim/need_consent.txt")),
        *middle,
        Step("phone", "claim/ask_phone.txt", phone),
        code_step(summary_view, "claim/sms.txt"),  # the phone is the claimant's: it receives a code
        Step("confirm", "claim/summary.txt", expect_word("确认", "claim/need_confirm.txt")),
        face_step(summary_view, needs_face),
    )


claim = router.dialog(Dialog(
    name="claim",
    restart_keyword="防疫健康信息码",
    steps=claim_steps(
        Step("name", "claim/ask_name.txt", person_name),
        Step("doc_number", "claim/ask_resident_id.txt", held_elsewhere(resident_id)),
    ),
    on_complete=complete_claim,
    view=summary_view,
))

hmt_claim = router.dialog(Dialog(
    name="hmt_claim",
    restart_keyword="港澳台",
    steps=claim_steps(
        Step("doc_type", "claim/ask_doc_type.txt", document_type),
        Step("doc_number", "claim/ask_document.txt", held_elsewhere(document_number)),
        Step("nationality", "claim/ask_nationality.txt", nationality, when=is_passport),
        Step("name", "claim/ask_name.txt", person_name),
    ),
    on_complete=complete_claim,
    view=summary_view,
))


async def complete_deregister(ctx: Context, data: dict[str, Any]) -> Reply:
    services = ctx.services
    subjects = [r.index[:24] for r in await services.relatives.list(ctx.openid)]
    await services.relatives.forget_user(ctx.openid, services.clock.time())
    await services.codes.profiles.delete(ctx.openid)
    await services.codes.profiles.forget_everything(ctx.openid, subjects)
    return ctx.text("claim/deregistered.txt", retention_days=services.settings.venues.retention_days)


deregister = router.dialog(Dialog(
    name="deregister",
    restart_keyword="注销健康码",
    steps=(Step("confirm", "claim/confirm_deregister.txt", expect_word("确认注销", "claim/need_deregister.txt")),),
    on_complete=complete_deregister,
    view=lambda ctx, data: {"relatives": data.get("relatives", 0),
                            "retention_days": ctx.services.settings.venues.retention_days},
))


# -- routes -------------------------------------------------------------------------------------------------

@router.keywords("防疫健康信息码", "健康码", "领取健康码", "我的健康码", "查看健康码", "防疫健康码", "health code",
                 "my code", "code",
                 reads=(UserHash.TRAVEL_VERIFIED, UserHash.OWN_IMAGE), glance=True)
@router.click("HEALTH_CODE", reads=(UserHash.TRAVEL_VERIFIED, UserHash.OWN_IMAGE), glance=True)
async def show_or_claim(ctx: Context) -> Reply:
    profile = await ctx.profile()
    if profile is None and moved_of(ctx.prefetched_profile):
        return ctx.text("claim/moved.txt")
    if profile is None:
        return await claim.start(ctx)
    return await code_reply(ctx, profile)


@router.keywords("重新申领", "claim again")
async def claim_again(ctx: Context) -> Reply:
    """After the code moved to another account: claim it back here (face verification, as any takeover)."""
    if await ctx.profile() is not None:
        return ctx.text("claim/already_claimed.txt")
    return await claim.start(ctx)


@router.keywords("港澳台", "境外人员", "港澳台入境人员申领入口", "外籍人员", "外国人", "foreigner", "foreigners",
                 "passport", "visitor", "hong kong, macao, taiwan")
@router.click("HMT_ENTRY")
async def hmt_entry(ctx: Context) -> Reply:
    if await ctx.profile() is not None:
        return ctx.text("claim/already_claimed.txt")
    return await hmt_claim.start(ctx, {"entry": "hmt"})


@router.keywords("注销健康码", "注销", "deregister")
async def start_deregister(ctx: Context) -> Reply:
    if await ctx.profile() is None:
        return ctx.text("claim/nothing_to_deregister.txt")
    return await deregister.start(ctx, {"relatives": len(await ctx.services.relatives.list(ctx.openid))})


# -- the code image -----------------------------------------------------------------------------------------

