"""Parse a push into a frozen Inbound: refuse DTDs, duplicated fields and missing headers before routing."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from bot.domain.numerals import small_number

DTD_RE = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)
REQUIRED = ("ToUserName", "FromUserName", "CreateTime", "MsgType")
OPENID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


KNOWN_KINDS = frozenset((
    "text", "image", "voice", "video", "shortvideo", "location", "link", "miniprogrampage", "subscribe",
    "unsubscribe", "scan", "click", "view", "templatesendjobfinish", "masssendjobfinish", "scancode_push",
    "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album", "pic_weixin", "location_select", "view_miniprogram",
))


class BadPush(ValueError):
    """The body is not a well-formed WeChat push; answered with 400."""


def normalize_text(text: str) -> str:
    """Full-width to half-width, trimmed, case-folded: the form keywords are matched in."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


MEDIA_ID_RE = re.compile(r"[A-Za-z0-9_\-]{1,128}")


@dataclass(frozen=True, slots=True)
class Inbound:
    openid: str
    account: str
    create_time: int
    msg_type: str
    msg_id: int = 0
    content: str = ""
    event: str = ""
    event_key: str = ""
    internal: bool = False  # made by healthbot itself (a face-check result): never parsed from a push
    location: tuple[float, float] | None = None  # (longitude, latitude) of a location message
    media_id: str = ""  # an image message's MediaId: WeChat keeps the picture 3 days
    spoken: bool = False  # a voice message, answered as its recognised text
    normalized: str = field(init=False, default="")  # the content as keywords are matched: routing reads it often

    def __post_init__(self) -> None:
        if self.content:
            object.__setattr__(self, "normalized", normalize_text(self.content))

    @property
    def kind(self) -> str:
        """The message or event type as a metric label: WeChat's known ones, every other value is "other"."""
        kind = self.event or self.msg_type
        return kind if kind in KNOWN_KINDS else "other"

    @property
    def is_event(self) -> bool:
        return self.msg_type == "event"

    def dedup_id(self) -> str:
        """MsgId for messages; FromUserName + CreateTime + Event + EventKey for events."""
        if self.msg_id:
            return f"m{self.msg_id}"
        key = hashlib.sha1(self.event_key.encode()).hexdigest()[:16] if self.event_key else "-"  # noqa: S324
        return f"e{self.create_time}:{self.event}:{key}"


# A push as WeChat writes it: <xml> and flat fields, each one CDATA section without "]" or plain text without
# "<", "&" or "]"; no declaration, comment, attribute, entity, nested element, carriage return (XML makes it
# \n) or character XML refuses. Such a body is read by regular expression, in half ElementTree's time; any
# other, malformed ones included, goes to ElementTree, which decides. Possessive runs keep both linear.
_NAME = "[A-Za-z_][A-Za-z0-9_]*+"
_REFUSED = "\x00-\x08\x0b-\x1f\ufffe\uffff"
_FIELD = rf"<({_NAME})>(?:<!\[CDATA\[([^\]{_REFUSED}]*+)\]\]>|([^<&\]{_REFUSED}]*+))</\1>"
_FLAT_PUSH = re.compile(rf"[ \t\n]*+<xml>(?:[ \t\n]*+{_FIELD})++[ \t\n]*+</xml>[ \t\n]*+")
_FLAT_FIELD = re.compile(_FIELD)


def _flat_fields(text: str) -> list[tuple[str, str]] | None:
    """The fields of a flat push, as ElementTree would read them; None for any other body."""
    if not _FLAT_PUSH.fullmatch(text):
        return None
    return [(name, (cdata or plain).strip()) for name, cdata, plain in _FLAT_FIELD.findall(text)]


def _tree_fields(text: str) -> list[tuple[str, str]]:
    try:
        root = ET.fromstring(text)  # noqa: S314 - DTDs refused before: no entities to expand
    except (ET.ParseError, ValueError) as exc:
        raise BadPush(f"malformed XML: {type(exc).__name__}") from None
    if root.tag != "xml" or len(root) == 0:
        raise BadPush("the root element must be <xml> with child elements")
    # A field is text; one with children or attributes is not a field we can read: it reads as empty. The
    # location picker's event (location_select) is the exception: its SendLocationInfo's fields are read
    # as the location message's.
    fields = [(child.tag, (child.text or "").strip() if len(child) == 0 and not child.attrib else "")
              for child in root]
    picked = root.find("SendLocationInfo")
    if picked is not None:
        fields += [(f"Picked_{child.tag}", (child.text or "").strip()) for child in picked if len(child) == 0]
    return fields


def _fields(body: bytes) -> dict[str, str]:
    """Each field's text, stripped, refusing DTDs (before any parser sees one), duplicates and missing headers.
    A flat push cannot hold a DTD (its only markup is <xml>, fields and CDATA): only another is searched."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadPush("malformed XML: UnicodeDecodeError") from None
    read = _flat_fields(text)
    if read is None:
        if DTD_RE.search(body):
            raise BadPush("DTDs and entity declarations are not accepted")
        read = _tree_fields(text)
    fields: dict[str, str] = {}
    for tag, value in read:
        if tag in fields:
            raise BadPush(f"duplicated field {tag}")
        fields[tag] = value
    for name in REQUIRED:
        if not fields.get(name):
            raise BadPush(f"missing field {name}")
    return fields


def parse_inbound(body: bytes) -> Inbound:
    """A push: a flat one, as WeChat sends, by regular expression; any other, once it is known to carry no DTD
    (no entity is ever expanded), by the standard library's ElementTree, whose reading both give."""
    data = _fields(body)
    openid, create_time = data["FromUserName"], small_number(data["CreateTime"], 12)
    if not OPENID_RE.match(openid):
        raise BadPush("FromUserName is not an OpenID")
    if create_time is None:
        raise BadPush("CreateTime is not a time in seconds")
    raw_id = data.get("MsgId") or data.get("MsgID")
    msg_id = small_number(raw_id, 20) if raw_id else 0
    if msg_id is None or msg_id >= 1 << 64:
        raise BadPush("MsgId is not a 64-bit integer")
    msg_type = data["MsgType"].lower()
    event = (data.get("Event") or "").lower() if msg_type == "event" else ""
    content = data.get("Content")
    recognition = data.get("Recognition")
    spoken = msg_type == "voice" and bool(recognition)
    if spoken:
        # The account's speech recognition wrote down what was said: answer it as if it had been typed.
        msg_type, content = "text", recognition.rstrip("。")
    where = _location(data) if msg_type == "location" else _location(data, "Picked_") \
        if event == "location_select" else None
    media = data.get("MediaId", "") if msg_type == "image" else ""
    media = media if MEDIA_ID_RE.fullmatch(media) else ""  # not one WeChat makes: as if there were none
    return Inbound(openid, data["ToUserName"], create_time, msg_type, msg_id, content or "", event,
                   data.get("EventKey", ""), location=where, media_id=media, spoken=spoken)


def _location(data: dict[str, str], prefix: str = "") -> tuple[float, float] | None:
    """(longitude, latitude) from Location_Y and Location_X, or None when they are not a place on Earth."""
    try:
        lng, lat = float(data.get(f"{prefix}Location_Y", "")), float(data.get(f"{prefix}Location_X", ""))
    except ValueError:
        return None
    return (lng, lat) if -180 <= lng <= 180 and -85 <= lat <= 85 else None
