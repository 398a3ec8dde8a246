"""Menu keys and keywords of services that are not open yet answer 「即将开通」."""

from __future__ import annotations

from bot.context import Context
from bot.replies import Reply
from bot.router import Router

router = Router("coming_soon")


@router.keywords("亲属码", "帮他人领取", "家人", "行程码", "行程卡", "通信大数据行程卡", "核酸", "核酸检测结果",
                 "核酸结果", "离线码", "常见问题")
@router.click("RELATIVES", "TRAVEL_CARD", "TEST_RESULTS", "OFFLINE_CODE", "FAQ")
async def coming_soon(ctx: Context) -> Reply:
    return ctx.text("coming_soon.txt")
