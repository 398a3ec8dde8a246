"""One key-naming scheme. Keys of one user share the hash tag {openid}, so a script touches one slot."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import NamedTuple

# The leaves of a user's keys that a turn names, each spelt once: by Keys' methods and by TurnKeys.
_SEEN, _DONE, _LOCK, _STATE, _DIALOG_WAS = "seen:", "done:", "lock", "state", "dialog-was"
_PREFS = "prefs"
_BUCKET, _PROFILE, _IMAGE, _RELATIVES, _TRAVEL_VERIFIED = "tokens:", "profile", "image:", "relatives", "travel-verified"


class UserHash:
    """The hashes of a user's that a route may ask the turn to read with it (`Router` decorators' `reads=`):
    each saves the handler a round trip. The names are the keys' leaves."""

    OWN_IMAGE = _IMAGE + "self"  # the cached image of one's own code (storage.codes.ImageCache)
    TRAVEL_VERIFIED = _TRAVEL_VERIFIED  # 核验行程卡 for 二码合一 (storage.travel)
    RELATIVES = _RELATIVES  # the relatives one has bound (storage.relatives)


class TurnKeys(NamedTuple):
    """The keys of one user a turn names, made at once from the user's prefix: one by one, through Keys'
    methods, the ten cost a new user five times as much as concatenated here."""

    prefix: str
    lock: str
    dialog: str
    marker: str
    bucket: str
    profile: str
    prefs: str  # the user's language and 长辈模式 (bot/engine/prefs.py), one short string
    # The hashes the turn script reads besides dialog and profile when there is a profile: those the routes
    # declare (UserHash), named for this user.
    reads: tuple[str, ...]

    def seen(self, dedup_id: str) -> str:
        return self.prefix + _SEEN + dedup_id

    def done(self, dedup_id: str) -> str:
        return self.prefix + _DONE + dedup_id


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "hb"

    def _user(self, openid: str, leaf: str) -> str:
        return f"{self.prefix}:u:{{{openid}}}:{leaf}"

    def turn(self, openid: str, reads: tuple[str, ...] = ()) -> TurnKeys:
        """`reads`: UserHash leaves the turn script reads for a claimed user."""
        user = self._user(openid, "")
        return TurnKeys(user, user + _LOCK, user + _STATE, user + _DIALOG_WAS, user + _BUCKET + "messages",
                        user + _PROFILE, user + _PREFS, tuple(map(user.__add__, reads)))

    def seen(self, openid: str, dedup_id: str) -> str:
        return self._user(openid, _SEEN + dedup_id)

    def done(self, openid: str, dedup_id: str) -> str:
        """That a push was answered, kept for the whole replay window after its reply is dropped."""
        return self._user(openid, _DONE + dedup_id)

    def lock(self, openid: str) -> str:
        return self._user(openid, _LOCK)

    def prefs(self, openid: str) -> str:
        """The user's language and 长辈模式, kept with the user (no TTL)."""
        return self._user(openid, _PREFS)

    def dialog(self, openid: str) -> str:
        """The dialog state, one value (once a hash under the leaf "dialog": a deploy leaves those to their TTL)."""
        return self._user(openid, _STATE)

    def dialog_marker(self, openid: str) -> str:
        return self._user(openid, _DIALOG_WAS)

    def user_glob(self, openid: str) -> str:
        """Every key of one user (SCAN pattern; the braces of the hash tag are escaped for glob)."""
        return f"{self.prefix}:u:\\{{{openid}\\}}:*"

    def bucket(self, openid: str, purpose: str) -> str:
        """A token bucket, one packed string (storage.ratelimit; once a hash under "bucket:", left to its TTL)."""
        return self._user(openid, _BUCKET + purpose)

    def client_bucket(self, address: str, purpose: str) -> str:
        return f"{self.prefix}:ip:{{{address}}}:{_BUCKET}{purpose}"

    def replay(self, timestamp: str, nonce: str) -> str:
        return f"{self.prefix}:nonce:{timestamp}:{nonce}"

    def profile(self, openid: str) -> str:
        return self._user(openid, _PROFILE)

    def token(self) -> str:
        return f"{self.prefix}:{{wx}}:token"

    def token_lock(self) -> str:
        return f"{self.prefix}:{{wx}}:token-lock"

    def media(self, digest: str) -> str:
        return f"{self.prefix}:media:{digest}"

    def status(self, doc_index: str) -> str:
        return f"{self.prefix}:status:{doc_index}"

    def colour_history(self, doc_index: str) -> str:
        """A document's 赋码记录: on the slot of its status key (the hash tag is that key), so one script
        changes both."""
        return f"{self.prefix}:colours:{{{self.status(doc_index)}}}"

    def status_lapses(self) -> str:
        """Documents whose colour lapses to green at a time (the score)."""
        return f"{self.prefix}:status-lapses"

    def qr_token(self, token: str) -> str:
        return f"{self.prefix}:qr:{token}"

    def image_cache(self, openid: str, subject: str = "self") -> str:
        return self._user(openid, _IMAGE + subject)

    def relatives(self, openid: str) -> str:
        return self._user(openid, _RELATIVES)

    def relatives_bound_at(self, openid: str) -> str:
        return self._user(openid, "relatives-at")

    def guardians(self, relative_index: str) -> str:
        return f"{self.prefix}:r:{{{relative_index}}}:guardians"

    def audit_outbox(self, openid: str) -> str:
        """Audit entries written with a user's binding, on the user's slot, until moved to the stream."""
        return self._user(openid, "audit-outbox")

    def audit(self) -> str:
        return f"{self.prefix}:audit"

    def view(self, nonce: str) -> str:
        return f"{self.prefix}:view:{nonce}"

    def face_nonce(self, nonce: str) -> str:
        return f"{self.prefix}:face:{nonce}"

    def sms_code(self, phone_index: str, openid: str) -> str:
        """One account's code for one phone: on the phone's slot, so the send script sees both windows' phone
        side; the openid is hashed into the name, never written plain beside the phone's index."""
        return f"{self.prefix}:p:{{{phone_index}}}:sms-code:{hashlib.sha256(openid.encode()).hexdigest()[:16]}"

    def sms_sent_phone(self, phone_index: str) -> str:
        return f"{self.prefix}:p:{{{phone_index}}}:sms-sent"

    def sms_sent_user(self, openid: str) -> str:
        return self._user(openid, "sms-sent")

    def travel(self, phone_index: str) -> str:
        return f"{self.prefix}:p:{{{phone_index}}}:travel"

    def travel_colour(self, phone_index: str) -> str:
        return f"{self.prefix}:p:{{{phone_index}}}:travel-colour"

    def risk_cities(self) -> str:
        return f"{self.prefix}:risk-cities"

    def travel_verified(self, openid: str) -> str:
        return self._user(openid, _TRAVEL_VERIFIED)

    def of_document(self, doc_index: str, leaf: str) -> str:
        """A key of one document's (its HMAC index), on the document's slot: for a store added as a plugin,
        which names its own leaf rather than a method here."""
        return f"{self.prefix}:d:{{{doc_index}}}:{leaf}"

    def of_service(self, service: str, leaf: str) -> str:
        """A key of a plugin's own shared data (not one person's), on one slot per service: its keys may meet in
        one command on a cluster."""
        return f"{self.prefix}:s:{{{service}}}:{leaf}"

    def of_user(self, openid: str, leaf: str) -> str:
        """A key of one user's, on the user's slot (see of_document)."""
        return self._user(openid, leaf)

    def results(self, doc_index: str) -> str:
        return f"{self.prefix}:d:{{{doc_index}}}:results"

    def holders(self, doc_index: str) -> str:
        """The account that claimed this document as its own: its openid (storage.profiles.take)."""
        return f"{self.prefix}:d:{{{doc_index}}}:holders"

    def displaced(self, doc_index: str) -> str:
        """Accounts whose code of this document moved to another account, until each has been told."""
        return f"{self.prefix}:d:{{{doc_index}}}:displaced"

    def notices(self) -> str:
        """The stream of customer-service notices to send (storage.notices)."""
        return f"{self.prefix}:notices"

    def told(self, openid: str, change: str) -> str:
        """That a user was sent (or is being sent) the notice of one change: never a second time."""
        return self._user(openid, "told:" + change)

    def venue(self, scene: str) -> str:
        return f"{self.prefix}:v:{{{scene}}}:info"

    def venues(self) -> str:
        return f"{self.prefix}:venues"

    def venue_entries(self, scene: str, day: str) -> str:
        """One venue's entries of one day (YYYYMMDD, Shanghai)."""
        return f"{self.prefix}:v:{{{scene}}}:in:{day}"

    def venue_exits(self, scene: str, day: str) -> str:
        """离场 of one venue's entries of one day: visit id -> when it ended (the entries' key, :out: for :in:)."""
        return f"{self.prefix}:v:{{{scene}}}:out:{day}"

    def visits(self, doc_index: str) -> str:
        """The venues a document was registered at, as scene|visit scored by the time, for a person trace."""
        return f"{self.prefix}:d:{{{doc_index}}}:visits"

    def traced(self, openid: str, tag: str) -> str:
        """The person a holder's 场所码 entries name (storage.venues.identity_write), by a tag of the document."""
        return self._user(openid, "traced:" + tag)

    def last_venue(self, openid: str) -> str:
        """The venue a user scanned last, for a while: 「为亲属登记」 registers relatives there."""
        return self._user(openid, "last-venue")
