"""Menu keys and keywords of services that are not open yet answer 「即将开通」."""

from __future__ import annotations

from bot.context import Context
from bot.replies import Reply
from bot.router import Router

router = Router("coming_soon")


@router.keywords("行程码", "行程卡", "通信大数据行程卡", "核酸", "核酸检测结果", "核酸结果", "常见问题")
@router.click("TRAVEL_CARD", "TEST_RESULTS", "FAQ")
@router.regex(r"核酸\s*\d{1,2}")
async def coming_soon(ctx: Context) -> Reply:
    return ctx.text("coming_soon.txt")
