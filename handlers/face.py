"""The face verifier's result, for whichever dialog is at its face step (a relative's binding, a claim)."""

from __future__ import annotations

from bot.engine.context import Context
from bot.engine.router import Router
from bot.usecases.face import FACE_EVENT, face_result
from bot.wechat.replies import Reply

router = Router("face")


@router.internal(FACE_EVENT)
async def face_checked(ctx: Context) -> Reply:
    return await face_result(ctx)
