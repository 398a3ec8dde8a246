"""A dialog's state as the one value Redis keeps: JSON, sealed once answers are in it (they are personal data).

One value instead of a hash of four fields: one decode and one cipher call a turn instead of three, and the
turn scripts read and write it with one GET and one SET (docs/performance.md)."""

from __future__ import annotations

from bot.engine.context import DialogState
from storage.vault import Vault, compact_json, read_json


def dump_state(state: DialogState, vault: Vault, openid: str) -> bytes:
    plain = compact_json([state.dialog, state.step, state.history, state.data]).encode()
    # Nothing to protect before the first answer: a dialog's first step skips the cipher.
    return vault.seal(plain, context=openid) if state.data else plain


def load_state(value: bytes, vault: Vault, openid: str) -> DialogState:
    """Raises ValueError (SealError included) for a value that is not a state of ours."""
    plain = value if value[:1] == b"[" else vault.open(value, context=openid)
    try:
        dialog, step, history, data = read_json(plain)
    except TypeError:  # valid JSON of another shape
        raise ValueError("not a dialog state") from None
    if not (isinstance(dialog, str) and isinstance(step, str) and isinstance(history, list)
            and isinstance(data, dict)):
        raise ValueError("not a dialog state")
    return DialogState(dialog=dialog, step=step, history=history, data=data)
