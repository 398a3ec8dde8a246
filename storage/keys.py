"""One key-naming scheme. Keys of one user share the hash tag {openid}, so a script touches one slot."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "hb"

    def _user(self, openid: str, leaf: str) -> str:
        return f"{self.prefix}:u:{{{openid}}}:{leaf}"

    def seen(self, openid: str, dedup_id: str) -> str:
        return self._user(openid, f"seen:{dedup_id}")

    def lock(self, openid: str) -> str:
        return self._user(openid, "lock")

    def dialog(self, openid: str) -> str:
        return self._user(openid, "dialog")

    def dialog_marker(self, openid: str) -> str:
        return self._user(openid, "dialog-was")

    def profile(self, openid: str) -> str:
        return self._user(openid, "profile")

    def token(self) -> str:
        return f"{self.prefix}:{{wx}}:token"

    def token_lock(self) -> str:
        return f"{self.prefix}:{{wx}}:token-lock"

    def media(self, digest: str) -> str:
        return f"{self.prefix}:media:{digest}"

    def status(self, doc_index: str) -> str:
        return f"{self.prefix}:status:{doc_index}"

    def qr_token(self, token: str) -> str:
        return f"{self.prefix}:qr:{token}"

    def user_qr(self, openid: str) -> str:
        return self._user(openid, "qr")

    def image_cache(self, openid: str) -> str:
        return self._user(openid, "image")
