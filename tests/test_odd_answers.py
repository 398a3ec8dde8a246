"""Whatever a citizen types at a dialog step gets that step's own answer: never the generic error, never a crash.

The fuzzer leans on what phones and input methods produce: digits of other scripts (full-width, superscript,
circled, Arabic-Indic, Ethiopic), CJK, punctuation and odd spaces."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.domain.clock import SettableClock
from bot.wechat.inbound import Inbound
from tests.conftest import Bot, BotFactory
from tests.journeys import (
    ELDER,
    ID,
    NAME,
    PHONE,
    RELATIVE_NAME,
    TODAY,
    guardian,
)

CLAIM = ["防疫健康信息码", "同意", NAME, ID, PHONE]
HMT = ["港澳台", "同意"]
BIND = ["添加亲属", RELATIVE_NAME, ELDER, "1", "确认绑定"]
TRAVEL = ["行程码", PHONE, "同意并授权"]
# The answers that lead to each step, from the dialog's start; binding a relative needs a claimed code.
STEPS: dict[str, list[str]] = {
    **{f"claim {n}": CLAIM[:n] for n in range(1, len(CLAIM) + 1)},
    "hmt document type": HMT,
    "hmt Taiwan permit": [*HMT, "2"],
    "hmt Hong Kong permit": [*HMT, "1"],
    "hmt passport": [*HMT, "5"],
    "hmt nationality": [*HMT, "5", "E12345678"],
    **{f"bind {n}": BIND[:n] for n in range(1, len(BIND) + 1)},
    **{f"travel {n}": TRAVEL[:n] for n in range(1, len(TRAVEL) + 1)},
}
NEEDS_A_CLAIM = ("bind",)

digits = st.characters(categories=["Nd", "No", "Nl"])
TRICKY = ["", " ", "\u3000", "0", "00", "9", "99", "-1", "1.5", "1e3", "①", "¹", "፩", "１", "Ⅷ", "٣", "13٨٠٠٠٠١٢٣٤",
          "１３８００００１２３４", "١٢٣٤٥٦", "1101051949123100２x", "E１２３４５６７８", "]]>", "<xml>", "&amp;"]
answers = st.one_of(
    st.text(digits, min_size=1, max_size=20),
    st.builds(lambda head, tail: head + tail, st.sampled_from(["1", "13", "11010519", "H", "E", "KAZ"]),
              st.text(digits, max_size=18)),
    st.text(st.characters(categories=["Nd", "No", "Lo", "Lu", "Ll", "Zs", "P", "S"]), max_size=30),
)


@pytest.fixture
async def bot(make_bot: BotFactory) -> Bot:
    return await make_bot(clock=SettableClock(TODAY), limits={"messages_burst": 10_000, "messages_per_minute": 10_000})


@pytest.mark.parametrize("step", list(STEPS))
async def test_any_answer_at_any_step_gets_a_clear_reply(bot: Bot, step: str,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    user = "oOdd_" + step.replace(" ", "_")
    if step.startswith(NEEDS_A_CLAIM):
        await guardian(bot, user)
    error = bot.services.templates.render("error.txt")
    loop = asyncio.get_running_loop()

    phones = (f"139{n:08d}" for n in itertools.count())

    async def once(answer: str) -> None:
        await bot.say(user, "取消")
        phone = next(phones)  # SMS limits are per number: a new one for each walk to the code step
        for earlier in STEPS[step]:
            await bot.say(user, phone if earlier == PHONE else earlier)
        assert await bot.services.redis.exists(bot.services.keys.dialog(user)), step
        reply = await bot.say(user, answer)
        assert reply and reply != error, (step, answer)
        assert await bot.services.redis.exists(bot.services.keys.dialog(user)), (step, answer, reply)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(answer=answers)
    def run(answer: str) -> None:
        # A service's own keyword is no odd answer: typed where it is not an answer, it leaves the dialog for
        # that service (tests/test_citizen_journeys.py, "Dialogs"). Hypothesis also tries the code's own strings.
        assume(not names_a_service(bot, answer))
        asyncio.run_coroutine_threadsafe(once(answer), loop).result(30)

    with caplog.at_level(logging.ERROR):
        for answer in TRICKY:
            await once(answer)
        await loop.run_in_executor(None, run)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def names_a_service(bot: Bot, answer: str) -> bool:
    found = bot.dispatcher.table.find(Inbound("oOdd", "gh", 0, "text", content=answer))
    return found is not None and found[0].interrupts
