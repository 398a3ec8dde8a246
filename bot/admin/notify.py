"""Tell followers that new test results are out (「您的核酸检测结果已出」), behind [results] notify_new_results."""

from __future__ import annotations

import logging

from bot.domain.masking import mask_name
from bot.engine.services import Services
from bot.ops.logs import hash_openid
from bot.wechat.api import WeChatAPIError

log = logging.getLogger("healthbot.notify")


async def notify_results(services: Services, doc_indexes: set[str]) -> int:
    """One customer-service message per holder of each document and per user who bound it as a relative."""
    sent = 0
    for index in doc_indexes:
        holders = await services.codes.profiles.holders(index)
        guardians = await services.relatives.guardian_openids(index)
        texts = await services.texts_for([*holders, *guardians])
        messages = [(openid, texts[openid].render("results/ready_self.txt")) for openid in holders]
        for openid in guardians:
            relative = next((r for r in await services.relatives.list(openid) if r.index == index), None)
            if relative is not None:  # the notice names the relative; its number is fixed for the binding's life
                messages.append((openid, texts[openid].render(
                    "results/ready_relative.txt", name=mask_name(relative.name), n=relative.number)))
        for openid, text in messages:
            try:
                await services.api.send_text(openid, text)
                sent += 1
            except WeChatAPIError as exc:  # 45015 outside the 48 h window, 43004 unfollowed: skip, go on
                log.info("result notice not delivered user=%s: %s", hash_openid(openid), exc)
    return sent
