"""Whose code it is: one holder account per document, a takeover only through face verification (or refused),
and never silent: the old account is told, by customer-service message or at its next message."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.app import NOTICES
from bot.usecases.notices import NoticeSender
from storage.audit import pseudonym
from tests.conftest import Bot, BotFactory
from tests.helpers import CHROMIUM, click_in_chromium
from tests.journeys import (
    ID,
    NAME,
    PHONE,
    assert_nothing_plain,
    bind,
    callback,
    claim_until,
    full_claim,
    guardian,
    link_in,
    prove_phone,
    sent_to,
)

MOVED = "您的健康码已在其他微信号申领。如非本人操作，请回复「申诉」"
OTHER_PHONE = "13900005678"
FIRST, SECOND = "oFirst_0001", "oSecond_0002"


async def up_to_confirm(bot: Bot, user: str, id_number: str = ID, phone: str = OTHER_PHONE) -> str:
    """A second claim of the document, to its summary: the reply to the SMS code."""
    await claim_until(bot, user, ["防疫健康信息码", "同意", NAME, id_number, phone])
    return await prove_phone(bot, user, phone)


async def told(bot: Bot, user: str, text: str, seconds: float = 5.0) -> list[str]:
    """The customer-service texts `user` got, once one holds `text` (the notice sender runs on its own)."""
    for _ in range(int(seconds / 0.05)):
        if any(text in sent for sent in sent_to(bot, user)):
            return sent_to(bot, user)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{user} was not sent {text!r}: {sent_to(bot, user)}")


def holders(bot: Bot) -> object:
    return bot.services.codes.profiles.holders(bot.services.codes.profiles.doc_index("resident_id", ID))


async def audited(bot: Bot, action: str) -> list[dict[str, str]]:
    return [e for e in await bot.services.audit.latest(100) if e["action"] == action]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
async def test_a_takeover_with_face_verification_in_chromium_moves_the_code_and_tells_the_first_account(
        bot: Bot, tmp_path: Path) -> None:
    await full_claim(bot, FIRST)
    summary = await up_to_confirm(bot, SECOND)
    assert "请核对您的信息" in summary
    prompt = await bot.say(SECOND, "确认")
    assert "已在其他微信号申领" in prompt and "人脸识别" in prompt  # no code before the face check
    assert await holders(bot) == [FIRST]

    link = urlsplit(link_in(prompt))
    page = str(bot.client.make_url(f"{link.path}?{link.query}"))  # the public URL, served by the test server
    shown = await click_in_chromium(page, tmp_path, "button.pass", "#outcome")
    assert "已提交" in shown
    await bot.dispatcher.drain()
    assert any(m["touser"] == SECOND and m["msgtype"] == "image" for m in bot.standin.messages)  # the code
    assert await holders(bot) == [SECOND]
    assert await bot.say(SECOND, "防疫健康信息码") == "[image]"

    assert MOVED in (await told(bot, FIRST, MOVED))[-1]
    reply = await bot.say(FIRST, "防疫健康信息码")
    assert MOVED in reply and reply != "[image]"  # the moved text, not the code
    assert "重新申领" in reply

    [entry] = await audited(bot, "takeover")
    vault = bot.services.vault
    assert entry["who"] == pseudonym(vault, SECOND) and entry["other"] == pseudonym(vault, FIRST)
    blob = repr(await bot.services.audit.latest(100))
    assert FIRST not in blob and SECOND not in blob
    await assert_nothing_plain(bot.services.redis, bot.services.settings.redis.prefix, [ID, PHONE, OTHER_PHONE, NAME])


async def test_a_refused_takeover_changes_nothing(make_bot: BotFactory) -> None:
    bot = await make_bot(identity={"takeover": "refuse"})
    await full_claim(bot, FIRST)
    answers = await claim_until(bot, SECOND, ["防疫健康信息码", "同意", NAME, ID])
    assert "已在其他微信号申领" in answers[-1] and "申诉" in answers[-1]
    assert not [m for m in bot.standin.sms if m["phone"] == OTHER_PHONE]  # refused before any SMS
    assert await holders(bot) == [FIRST]
    assert await bot.say(FIRST, "防疫健康信息码") == "[image]"
    assert not sent_to(bot, FIRST)
    [entry] = await audited(bot, "refused")
    assert entry["who"] == pseudonym(bot.services.vault, SECOND)


async def test_a_holder_who_appears_after_the_document_step_is_caught_at_the_end(make_bot: BotFactory) -> None:
    bot = await make_bot()
    assert "请核对您的信息" in await up_to_confirm(bot, SECOND)  # nobody held it at the document step
    await full_claim(bot, FIRST)
    prompt = await bot.say(SECOND, "确认")
    assert "已在其他微信号申领" in prompt and "人脸识别" in prompt
    assert await holders(bot) == [FIRST]
    assert await callback(bot, link_in(prompt), "pass") == 200
    assert await holders(bot) == [SECOND]
    await told(bot, FIRST, MOVED)



async def test_with_refuse_a_holder_who_appears_after_the_document_step_refuses_the_claim_at_the_end(
        make_bot: BotFactory) -> None:
    bot = await make_bot(identity={"takeover": "refuse"})
    assert "请核对您的信息" in await up_to_confirm(bot, SECOND)
    await full_claim(bot, FIRST)
    refused = await bot.say(SECOND, "确认")
    assert "已在其他微信号申领" in refused and "申诉" in refused
    assert await holders(bot) == [FIRST]
    assert await bot.say(FIRST, "防疫健康信息码") == "[image]"
    assert [e["who"] for e in await audited(bot, "refused")] == [pseudonym(bot.services.vault, SECOND)]


async def test_a_failed_face_check_moves_nothing(bot: Bot) -> None:
    await full_claim(bot, FIRST)
    await up_to_confirm(bot, SECOND)
    prompt = await bot.say(SECOND, "确认")
    assert await callback(bot, link_in(prompt), "fail") == 200
    assert "认证失败" in sent_to(bot, SECOND)[-1]
    assert await holders(bot) == [FIRST]
    assert await bot.say(FIRST, "防疫健康信息码") == "[image]"
    assert not await audited(bot, "takeover")


async def test_outside_the_48_hour_window_the_first_account_is_told_at_its_next_message(bot: Bot) -> None:
    await full_claim(bot, FIRST)
    bot.standin.outside_window.add(FIRST)  # silent for more than 48 h: customer service cannot reach it
    await up_to_confirm(bot, SECOND)
    assert await callback(bot, link_in(await bot.say(SECOND, "确认")), "pass") == 200
    for _ in range(100):  # the sender tried, and held the notice
        if b"held|" in (await bot.services.redis.hget(bot.services.keys.profile(FIRST), "notice") or b""):
            break
        await asyncio.sleep(0.05)
    assert not sent_to(bot, FIRST)
    reply = await bot.say(FIRST, "核酸")  # any message: the notice comes first, the message is not handled
    assert MOVED in reply and "请重新发送" in reply
    assert MOVED not in await bot.say(FIRST, "帮助")  # shown once
    assert MOVED in await bot.say(FIRST, "防疫健康信息码")  # a code request still says where it went


async def test_a_notice_whose_sender_died_mid_send_is_never_sent_twice_and_never_lost(bot: Bot) -> None:
    services = bot.services
    await bot.app[NOTICES].stop()  # this process's sender is the one that dies
    await full_claim(bot, FIRST)
    index = services.codes.profiles.doc_index("resident_id", ID)
    # A takeover's effects, as a sender that then dies would leave them: the notice marked sending, its
    # stream entry taken by a consumer that will never acknowledge it.
    await services.codes.profiles.take(index, SECOND, takeover=True)
    await services.codes.profiles.move_out(FIRST, index, services.clock.time(), "claim/moved.txt", 3600)
    await services.notices.ensure_group()
    await services.redis.xadd(services.keys.notices(), {"to": FIRST, "kind": "moved"})
    await services.redis.xreadgroup("senders", "dead-worker", {services.keys.notices(): ">"}, count=10)
    assert await services.notices.begin(FIRST) == "claim/moved.txt"  # it began to send, then died
    before = len(sent_to(bot, FIRST))

    survivor = NoticeSender(services)
    taken = await services.notices.reclaim(0, 10)  # what the survivor's reclaim finds once the lease is past
    assert [fields["to"] for _, fields in taken] == [FIRST]
    for _, fields in taken:
        assert not await survivor.deliver(fields["to"])  # in doubt: not sent again...
    assert len(sent_to(bot, FIRST)) == before
    assert MOVED in await bot.say(FIRST, "帮助")  # ...but held, and shown at the next message


async def test_deregistering_frees_the_document_at_once(bot: Bot) -> None:
    await full_claim(bot, FIRST)
    await bot.say(FIRST, "注销健康码")
    assert "已注销" in await bot.say(FIRST, "确认注销")
    await up_to_confirm(bot, SECOND)
    assert await bot.say(SECOND, "确认") == "[image]"  # no face check: nobody holds it
    assert await holders(bot) == [SECOND]
    assert not await audited(bot, "takeover")


async def test_a_guardians_binding_of_the_document_is_untouched_by_a_takeover(bot: Bot) -> None:
    family = "oFamily_0009"
    await guardian(bot, family)
    assert await bind(bot, family, ID) == "[image]"  # ID is a 75-year-old: a relative of theirs
    await full_claim(bot, FIRST)  # the elder's own account
    await up_to_confirm(bot, SECOND)
    assert await callback(bot, link_in(await bot.say(SECOND, "确认")), "pass") == 200
    await told(bot, FIRST, MOVED)
    assert await bot.say(family, "查看亲属码 1") == "[image]"
    assert len(await bot.services.relatives.list(family)) == 1


async def test_face_on_claim_asks_every_self_claim_for_face_verification(make_bot: BotFactory) -> None:
    bot = await make_bot(identity={"face_on_claim": True})
    await up_to_confirm(bot, FIRST, phone=PHONE)
    prompt = await bot.say(FIRST, "确认")
    assert "人脸识别" in prompt and "已在其他微信号申领" not in prompt
    assert await bot.services.codes.profiles.load(FIRST) is None
    assert await callback(bot, link_in(prompt), "pass") == 200
    assert any(m["touser"] == FIRST and m["msgtype"] == "image" for m in bot.standin.messages)


async def test_appeal_is_audited_without_the_account(bot: Bot) -> None:
    await full_claim(bot, FIRST)
    await up_to_confirm(bot, SECOND)
    assert await callback(bot, link_in(await bot.say(SECOND, "确认")), "pass") == 200
    await told(bot, FIRST, MOVED)
    reply = await bot.say(FIRST, "申诉")
    assert "已记录您的申诉" in reply and "重新申领" in reply
    [entry] = await audited(bot, "appeal")
    assert entry["who"] == pseudonym(bot.services.vault, FIRST)
    assert "无需申诉" in await bot.say(SECOND, "申诉")  # the new holder: a green code, nothing to contest


async def test_a_notice_is_either_sent_or_shown_at_the_next_message_never_both(bot: Bot) -> None:
    services = bot.services
    await bot.app[NOTICES].stop()  # the test plays the sender
    await full_claim(bot, FIRST)
    index = services.codes.profiles.doc_index("resident_id", ID)
    await services.codes.profiles.take(index, SECOND, takeover=True)
    await services.codes.profiles.move_out(FIRST, index, services.clock.time(), "claim/moved.txt", 3600)
    sender = NoticeSender(services)

    assert MOVED in await bot.say(FIRST, "帮助")  # the message came before the sender: it shows the notice
    assert not await sender.deliver(FIRST)  # and the sender then has nothing to send
    assert not sent_to(bot, FIRST)

    await services.codes.profiles.move_out(FIRST, index, services.clock.time(), "claim/moved.txt", 3600)
    await services.redis.hset(services.keys.profile(FIRST), "notice", "queued|claim/moved.txt")
    assert await services.notices.begin(FIRST) == "claim/moved.txt"  # a sender is sending it right now
    help_text = await bot.say(FIRST, "帮助")
    assert MOVED not in help_text and "防疫健康信息码" in help_text  # handled as usual, not shown a second time


async def test_a_passport_held_by_another_account_is_taken_over_only_after_face_verification(bot: Bot) -> None:
    passport = ["港澳台", "同意", "5", "E12345678", "英国", "John Smith"]
    await claim_until(bot, FIRST, [*passport, PHONE])
    await prove_phone(bot, FIRST)
    assert await bot.say(FIRST, "确认") == "[image]"
    await claim_until(bot, SECOND, [*passport, OTHER_PHONE])
    await prove_phone(bot, SECOND, OTHER_PHONE)
    prompt = await bot.say(SECOND, "确认")
    assert "已在其他微信号申领" in prompt and "人脸识别" in prompt
    assert await callback(bot, link_in(prompt), "pass") == 200
    index = bot.services.codes.profiles.doc_index("passport", "E12345678")
    assert await bot.services.codes.profiles.holders(index) == [SECOND]
    await told(bot, FIRST, MOVED)


async def test_a_document_held_in_the_old_form_of_a_set_is_still_one_accounts_code(make_bot: BotFactory) -> None:
    """Holders were once kept as a set: such a document still refuses a second account, and 注销 frees it."""
    bot = await make_bot(identity={"takeover": "refuse"})
    await full_claim(bot, FIRST)
    index = bot.services.codes.profiles.doc_index("resident_id", ID)
    key, redis = bot.services.keys.holders(index), bot.services.redis
    await redis.delete(key)
    await redis.sadd(key, FIRST)  # as an earlier version wrote it
    assert await holders(bot) == [FIRST]
    answers = await claim_until(bot, SECOND, ["防疫健康信息码", "同意", NAME, ID])
    assert "已在其他微信号申领" in answers[-1]
    await bot.say(FIRST, "注销健康码")
    assert "已注销" in await bot.say(FIRST, "确认注销")
    assert await holders(bot) == [] and not await redis.exists(key)
    await bot.say(SECOND, "取消")
    await up_to_confirm(bot, SECOND)
    assert await bot.say(SECOND, "确认") == "[image]"
    assert await redis.get(key) == SECOND.encode()  # written in the string form from now on
