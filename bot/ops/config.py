"""Settings: built-in defaults < TOML file < HEALTHBOT_<SECTION>_<KEY> environment < CLI flags."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

DEV_TOKEN = "healthbot-dev"  # noqa: S105 - public on purpose: dev mode only
DEV_APP_ID = "wxdev000000000000"
DEV_APP_SECRET = "healthbot-dev-secret"  # noqa: S105 - matches the dev stand-in
DEFAULT_API_BASE = "https://api.weixin.qq.com"
STANDIN_PATH = "/_standin/wechat"
REPO_ROOT = Path(__file__).resolve().parents[2]


S = TypeVar("S")


class ConfigError(Exception):
    """One clear line that names the offending key."""


DAY = 86400
RATE_MAX = 1_000_000


def within(default: float, low: float, high: float) -> Any:
    """A numeric setting and the values start-up accepts. Outside them something breaks later, at a citizen's
    request: a rate of 0 divides by zero, a TTL of 0 or of 10**30 is an error in Redis."""
    return field(default=default, metadata={"range": (low, high)})


@dataclass
class WeChatSettings:
    token: str = ""
    app_id: str = ""
    app_secret: str = ""
    encoding_aes_key: str = ""
    api_base: str = DEFAULT_API_BASE
    api_timeout: float = within(5.0, 0.05, 60)
    showqrcode_url: str = ""
    # Ask user/info for a new follower's WeChat language (a verified 服务号 may): English starts in English.
    user_language: bool = True

    @property
    def encrypted(self) -> bool:
        return bool(self.encoding_aes_key)


@dataclass
class RedisSettings:
    url: str = "memory://"
    prefix: str = "hb"
    max_connections: int = within(256, 1, 100_000)


@dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = within(8080, 1, 65535)
    public_url: str = ""
    reply_deadline: float = 4.0
    dedup_ttl: int = within(60, 1, DAY)
    inflight_lease: float = within(10.0, 0.5, 600)
    user_lock_ttl: float = within(15.0, 0.5, 600)
    # At least WeChat's retries (15 s); the top is what Redis can hold, so a test can replay a 2014 sample.
    replay_window: int = within(300, 15, 10**10)
    log_format: str = "text"
    metrics_token: str = ""  # set: /metrics needs "Authorization: Bearer <token>"
    metrics_address: str = ""  # "127.0.0.1:9101": /metrics only there (a loopback address), not on the port
    behind_proxy: bool = False  # a reverse proxy on this host: the client is X-Forwarded-For's last address


@dataclass
class DialogSettings:
    ttl: int = within(600, 1, 30 * DAY)
    timeout_notice_ttl: int = within(86400, 1, 30 * DAY)


@dataclass
class SecuritySettings:
    index_key: str = ""
    data_key: str = ""
    signing_keys: str = ""
    active_key_id: str = ""

    def signing_key_map(self) -> dict[str, bytes]:
        """`kid:key,kid:key`: the active key signs; every listed key verifies (rotation keeps old ones listed)."""
        keys: dict[str, bytes] = {}
        for entry in filter(None, (e.strip() for e in self.signing_keys.split(","))):
            kid, _, key = entry.partition(":")
            if not kid or not key:
                raise ConfigError("security.signing_keys must look like kid:key,kid:key")
            keys[kid] = _decode_key(f"security.signing_keys[{kid}]", key)
        return keys

    def index_key_bytes(self) -> bytes:
        return _decode_key("security.index_key", self.index_key)

    def data_key_bytes(self) -> bytes:
        return _decode_key("security.data_key", self.data_key)


@dataclass
class PathSettings:
    templates: str = ""


@dataclass
class RenderSettings:
    font: str = ""
    image_cache_seconds: int = within(60, 0, 3 * DAY)  # WeChat keeps temporary media three days
    qr_token_ttl: int = within(1800, 1, 30 * DAY)
    reply_as: str = "image"
    view_link_minutes: int = within(10, 1, 24 * 60)


@dataclass
class UpstreamSettings:
    url: str = ""
    timeout: float = within(2.0, 0.05, 60)
    token: str = ""
    cache_seconds: float = within(30.0, 0, DAY)


@dataclass
class TravelSettings(UpstreamSettings):
    combined_window_hours: int = within(24, 1, 30 * 24)


@dataclass
class ResultsSettings(UpstreamSettings):
    notify_new_results: bool = False
    positive_sets_colour: str = ""  # "" (off) or a code colour that an imported 阳性 sets, audited


@dataclass
class IdentitySettings(UpstreamSettings):
    # A claim of a document another account holds: "face" (the claimant passes face verification and the
    # code moves, the old account told) or "refuse" (the claim is refused, pointing to 申诉).
    takeover: str = "face"
    face_on_claim: bool = False  # every self-claim passes face verification, whatever the claimant's age
    moved_notice_days: int = within(30, 1, 365)  # how long a moved-away account is shown why


@dataclass
class SmsSettings(UpstreamSettings):
    # Country codes beyond +852/+853/+886 the gateway delivers to ("+65", "+1"): numbers there are accepted at
    # the 港澳台 and foreigners' entry (E.164, at most 15 digits).
    international_prefixes: list[str] = field(default_factory=list)


STANDIN_UPSTREAMS = ("identity", "face", "sms")  # the upstreams whose empty url means a stand-in


@dataclass
class UpstreamsSettings:
    # Stand-ins production may run, by name (STANDIN_UPSTREAMS); any other empty url stops `serve`.
    allow_standins: list[str] = field(default_factory=list)


@dataclass
class RelativesSettings:
    max_per_user: int = within(8, 1, 1000)
    max_guardians: int = within(3, 1, 1000)
    unbind_after_hours: int = within(24, 0, 365 * 24)
    offline_valid_days: int = within(7, 1, 365)
    face_link_minutes: int = within(10, 1, 24 * 60)


@dataclass
class VenueSettings:
    retention_days: int = within(28, 1, 3650)


@dataclass
class LimitSettings:
    messages_burst: int = within(20, 0, RATE_MAX)  # 0: no per-user message limit
    messages_per_minute: int = within(30, 1, RATE_MAX)
    face_links_per_hour: int = within(10, 1, RATE_MAX)
    verify_per_minute: int = within(120, 1, RATE_MAX)
    scans_per_minute: int = within(120, 1, RATE_MAX)
    live_per_minute: int = within(120, 1, RATE_MAX)
    live_per_link_per_minute: int = within(30, 1, RATE_MAX)


@dataclass
class ColourSettings:
    history_days: int = within(180, 1, 3650)  # how long 赋码记录 keeps a change


@dataclass
class NoticeSettings:
    # Template messages (message/template/send), by template id; "" sends a customer-service message instead,
    # which WeChat delivers only within 48 h of the user's last message.
    colour_template: str = ""
    appeal_template: str = ""
    per_second: float = within(50.0, 1, 10_000)  # each worker's sending rate
    link_hours: int = within(24, 1, 30 * 24)  # how long a notice's link to the live code opens
    reclaim_seconds: int = within(30, 1, 3600)  # a notice a sender took this long ago unfinished: it died


@dataclass
class AppealSettings:
    reply_days: int = within(3, 1, 60)  # the reply a ticket promises, in days
    per_day: int = within(3, 1, 1000)  # appeals one account may open a day
    retention_days: int = within(180, 1, 3650)


@dataclass
class Settings:
    wechat: WeChatSettings = field(default_factory=WeChatSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    dialog: DialogSettings = field(default_factory=DialogSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    paths: PathSettings = field(default_factory=PathSettings)
    render: RenderSettings = field(default_factory=RenderSettings)
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    status: UpstreamSettings = field(default_factory=UpstreamSettings)
    face: UpstreamSettings = field(default_factory=UpstreamSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    travel: TravelSettings = field(default_factory=TravelSettings)
    results: ResultsSettings = field(default_factory=ResultsSettings)
    relatives: RelativesSettings = field(default_factory=RelativesSettings)
    upstreams: UpstreamsSettings = field(default_factory=UpstreamsSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    venues: VenueSettings = field(default_factory=VenueSettings)
    colours: ColourSettings = field(default_factory=ColourSettings)
    notices: NoticeSettings = field(default_factory=NoticeSettings)
    appeals: AppealSettings = field(default_factory=AppealSettings)
    menu: dict[str, Any] = field(default_factory=dict)
    dev_mode: bool = False
    dev_dir: str = ""
    source: str = "defaults"
    # Sections of plugins (bot/features/plugins.py), as given: key -> (value, where it came from). Each is
    # read and checked by `section` when the plugin is built.
    other: dict[str, dict[str, tuple[Any, str]]] = field(default_factory=dict)
    _built: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str, shape: type[S]) -> S:
        """A plugin's section: its defaults, then the file's and the environment's values, checked as the
        core sections are (ConfigError naming the key)."""
        if name not in self._built:
            block = shape()
            for key, (raw, origin) in self.other.get(name, {}).items():
                _set(block, name, key, raw, origin)
            _check_ranges(name, block)
            self._built[name] = block
        return self._built[name]  # type: ignore[no-any-return]

    @property
    def public_url(self) -> str:
        return self.server.public_url or f"http://{self.server.host}:{self.server.port}"


SECTIONS = ("wechat", "redis", "server", "dialog", "security", "paths", "render", "identity", "status", "face",
            "sms", "travel", "results", "relatives", "upstreams", "limits", "venues", "colours", "notices", "appeals")


def _decode_key(name: str, value: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ConfigError(f"{name} is not base64: generate one with `healthbot keygen`") from None
    if len(raw) != 32:
        raise ConfigError(f"{name} must decode to 32 bytes: generate one with `healthbot keygen`")
    return raw


def new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def _coerce(section: str, key: str, raw: Any, current: Any) -> Any:
    target = type(current)
    try:
        if target is bool:
            if isinstance(raw, bool):
                return raw
            word = str(raw).strip().lower()
            if word not in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
                raise ValueError  # "ture" must not quietly mean off
            return word in ("1", "true", "yes", "on")
        if isinstance(raw, bool) or (target is int and isinstance(raw, float)) or \
                (target is str and not isinstance(raw, str)):
            raise TypeError  # true for a count, 8.7 for a count, 5 for a host name: a slip, not a value
        if target is list:  # a TOML list of strings, or "a,b" from the environment
            items = raw.split(",") if isinstance(raw, str) else raw
            if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
                raise TypeError
            return [item.strip() for item in items if item.strip()]
        if target is int:
            return int(raw)
        if target is float:
            return float(raw)
        return str(raw)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{section}.{key} must be a {target.__name__}, got {raw!r}") from None


def _apply(settings: Settings, section: str, values: Mapping[str, Any], origin: str) -> None:
    block = getattr(settings, section)
    for key, raw in values.items():
        _set(block, section, key, raw, origin)


def _set(block: Any, section: str, key: str, raw: Any, origin: str) -> None:
    if key not in {f.name for f in dataclasses.fields(block)}:
        raise ConfigError(f"{section}.{key} is not a known setting ({origin})")
    setattr(block, key, _coerce(section, key, raw, getattr(block, key)))


def _check_ranges(section: str, block: Any) -> None:
    for setting in dataclasses.fields(block):
        if "range" in setting.metadata:
            low, high = setting.metadata["range"]
            value = getattr(block, setting.name)
            if not low <= value <= high:  # written so that nan is refused too
                raise ConfigError(f"{section}.{setting.name} must be between {low} and {high}, got {value!r}")


def load_settings(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Read settings in precedence order and validate them; raise ConfigError on the first problem."""
    env = os.environ if env is None else env
    settings = Settings()
    path = path or env.get("HEALTHBOT_CONFIG") or None
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        for section, values in data.items():
            if section in SECTIONS:
                _apply(settings, section, values, str(path))
            elif section != "menu" and isinstance(values, dict):
                settings.other.setdefault(section, {}).update((k, (v, str(path))) for k, v in values.items())
        settings.menu = data.get("menu", {})
        settings.source = str(path)
    for name, raw in env.items():
        if not name.startswith("HEALTHBOT_") or name == "HEALTHBOT_CONFIG":
            continue
        section, _, key = name[len("HEALTHBOT_"):].lower().partition("_")
        if section in SECTIONS and key:
            _apply(settings, section, {key: raw}, name)
        elif key:
            settings.other.setdefault(section, {})[key] = (raw, name)
    for section, values in (overrides or {}).items():
        given = {k: v for k, v in values.items() if v is not None}
        if section in SECTIONS:
            _apply(settings, section, given, "command line")
        else:
            settings.other.setdefault(section, {}).update((k, (v, "command line")) for k, v in given.items())
    if not path and not settings.wechat.token:
        _enter_dev_mode(settings, dev_dir(env))
    validate(settings)
    return settings


def _password(url: str) -> str:
    """The password in a URL's credentials (redis://:PW@host, user:PW@host), or ""."""
    credentials = url.partition("://")[2].partition("/")[0].rpartition("@")[0]
    return credentials.partition(":")[2]


def redacted(url: str) -> str:
    """A URL as it may be printed or logged: its password as ***."""
    password = _password(url)
    return url.replace(f":{password}@", ":***@", 1) if password else url


def redact(text: str, url: str) -> str:
    """`text` with the password of `url` blanked wherever it stands (an error message may quote it)."""
    password = _password(url)
    return text.replace(password, "***") if password else text


def standins(settings: Settings) -> list[str]:
    """The upstreams that run as their stand-in: an empty url (STANDIN_UPSTREAMS)."""
    return [name for name in STANDIN_UPSTREAMS if not getattr(settings, name).url]


def unnamed_standins(settings: Settings) -> list[str]:
    """Outside dev mode, one line for each stand-in the operator did not name in [upstreams] allow_standins."""
    if settings.dev_mode:
        return []
    return [f"{name}.url is empty, so its stand-in would run (it checks nobody, or sends nothing): set {name}.url, "
            f'or name it in [upstreams] allow_standins = ["{name}"]'
            for name in standins(settings) if name not in settings.upstreams.allow_standins]


def dev_dir(env: Mapping[str, str]) -> Path:
    """Where dev mode keeps what its commands share: `$HEALTHBOT_DEV_DIR`, else `.healthbot-dev` here."""
    return Path(env.get("HEALTHBOT_DEV_DIR") or ".healthbot-dev")


def dev_keys(directory: Path) -> dict[str, str]:
    """Dev mode's keys, made once and kept (0600), so that `serve`, `verify` and `admin` of one checkout agree:
    an offline code the dev server issued verifies, and survives a restart of the server."""
    path = directory / "keys.toml"
    if path.exists():
        return {k: str(v) for k, v in tomllib.loads(path.read_text(encoding="utf-8")).items()}
    keys = {"index_key": new_key(), "data_key": new_key(), "signing_keys": f"dev:{new_key()}",
            "active_key_id": "dev", "admin_token": new_key()}
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = directory / f".keys.{os.getpid()}"
    temporary.write_text("".join(f'{k} = "{v}"\n' for k, v in keys.items()), encoding="utf-8")
    temporary.chmod(0o600)
    try:
        os.link(temporary, path)  # first writer wins; a concurrent second command reads the first's keys
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return dev_keys(directory)


def _enter_dev_mode(settings: Settings, directory: Path) -> None:
    settings.dev_mode = True
    settings.dev_dir = str(directory)
    settings.source = f"dev mode (no config; keys in {directory}/keys.toml)"
    settings.wechat.token = DEV_TOKEN
    settings.wechat.app_id = settings.wechat.app_id or DEV_APP_ID
    settings.wechat.app_secret = settings.wechat.app_secret or DEV_APP_SECRET
    if settings.wechat.api_base == DEFAULT_API_BASE:
        settings.wechat.api_base = settings.public_url + STANDIN_PATH
    security = settings.security
    if not (security.index_key and security.data_key and security.signing_keys):
        keys = dev_keys(directory)
        security.index_key = security.index_key or keys["index_key"]
        security.data_key = security.data_key or keys["data_key"]
        if not security.signing_keys:
            security.signing_keys, security.active_key_id = keys["signing_keys"], keys["active_key_id"]
    if not settings.menu:
        example = REPO_ROOT / "config.example.toml"
        if example.exists():
            settings.menu = tomllib.loads(example.read_text(encoding="utf-8")).get("menu", {})


AES_KEY_RE = re.compile(r"^[A-Za-z0-9]{43}$")


def validate(settings: Settings) -> None:
    wechat = settings.wechat
    if not wechat.token:
        raise ConfigError("wechat.token is missing: set it in [wechat] or HEALTHBOT_WECHAT_TOKEN")
    if wechat.encoding_aes_key and not AES_KEY_RE.match(wechat.encoding_aes_key):
        raise ConfigError(
            f"wechat.encoding_aes_key must be 43 letters and digits, got {len(wechat.encoding_aes_key)} characters"
        )
    if wechat.encoding_aes_key and not wechat.app_id:
        raise ConfigError("wechat.app_id is required when wechat.encoding_aes_key is set")
    if not wechat.api_base.startswith(("http://", "https://")):
        raise ConfigError(f"wechat.api_base must be an http(s) URL, got {wechat.api_base!r}")
    url = settings.redis.url
    schemes = ("redis://", "rediss://", "redis+cluster://", "rediss+cluster://", "redis+sentinel://", "unix://",
               "memory://")
    if not url.startswith(schemes):
        raise ConfigError(f"redis.url must start with {', '.join(schemes)}, got {url!r}")
    for name in ("index_key", "data_key"):
        if not getattr(settings.security, name):
            raise ConfigError(f"security.{name} is missing: generate one with `healthbot keygen`")
    settings.security.index_key_bytes()
    settings.security.data_key_bytes()
    signing = settings.security.signing_key_map()
    if not signing:
        raise ConfigError("security.signing_keys is missing: set kid:key (a key from `healthbot keygen`)")
    if settings.security.active_key_id not in signing:
        raise ConfigError("security.active_key_id must name one of the keys in security.signing_keys")
    if settings.server.metrics_address and not re.fullmatch(r"[\w.:\[\]-]+:\d{1,5}", settings.server.metrics_address):
        raise ConfigError(f"server.metrics_address must be host:port, got {settings.server.metrics_address!r}")
    for section in SECTIONS:
        _check_ranges(section, getattr(settings, section))
    if settings.render.image_cache_seconds > settings.render.qr_token_ttl:
        raise ConfigError("render.image_cache_seconds must not exceed render.qr_token_ttl: "
                          "a code image re-sent after its QR expired would not resolve at the door")
    if not 0 < settings.server.reply_deadline < 5:
        raise ConfigError("server.reply_deadline must be between 0 and 5 seconds (WeChat waits 5 s)")
    settings.paths.templates = settings.paths.templates or str(REPO_ROOT / "templates")
    if settings.results.positive_sets_colour not in ("", "yellow", "red"):
        raise ConfigError("results.positive_sets_colour must be empty (off), yellow or red, "
                          f"got {settings.results.positive_sets_colour!r}")
    if wrong := [p for p in settings.sms.international_prefixes if not re.fullmatch(r"\+[1-9]\d{0,2}", p)]:
        raise ConfigError(f"sms.international_prefixes: {', '.join(map(repr, wrong))} is not a country code "
                          "like \"+65\"")
    if unknown := [name for name in settings.upstreams.allow_standins if name not in STANDIN_UPSTREAMS]:
        raise ConfigError(f"upstreams.allow_standins: {', '.join(unknown)} has no stand-in; the names are "
                          f"{', '.join(STANDIN_UPSTREAMS)}")
    if settings.identity.takeover not in ("face", "refuse"):
        raise ConfigError(f"identity.takeover must be face or refuse, got {settings.identity.takeover!r}")
    if settings.render.reply_as not in ("image", "news"):
        raise ConfigError(f"render.reply_as must be image or news, got {settings.render.reply_as!r}")
    if not Path(settings.paths.templates).is_dir():
        raise ConfigError(f"paths.templates: {settings.paths.templates} is not a directory")
