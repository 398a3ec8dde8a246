"""Settings precedence, and startup refusing bad settings with one line that names the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.ops.config import ConfigError, load_settings, new_key, redacted

KEYS = (f'[security]\nindex_key = "{new_key()}"\ndata_key = "{new_key()}"\n'
        f'signing_keys = "k1:{new_key()}"\nactive_key_id = "k1"\n'
        '[upstreams]\nallow_standins = ["identity", "face", "sms"]\n')


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "healthbot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = write(tmp_path, '[wechat]\ntoken = "from-file"\n[server]\nport = 9001\nhost = "0.0.0.0"\n' + KEYS)
    settings = load_settings(path, env={})
    assert (settings.wechat.token, settings.server.port, settings.server.host) == ("from-file", 9001, "0.0.0.0")
    env = {"HEALTHBOT_WECHAT_TOKEN": "from-env", "HEALTHBOT_SERVER_PORT": "9002"}
    settings = load_settings(path, env=env)
    assert (settings.wechat.token, settings.server.port) == ("from-env", 9002)
    settings = load_settings(path, env=env, overrides={"server": {"port": 9003, "host": None}})
    assert (settings.wechat.token, settings.server.port, settings.server.host) == ("from-env", 9003, "0.0.0.0")
    assert not settings.dev_mode


def test_no_config_at_all_is_dev_mode(tmp_path: Path) -> None:
    settings = load_settings(env={"HEALTHBOT_DEV_DIR": str(tmp_path / "dev")})
    assert settings.dev_mode and settings.redis.url == "memory://" and settings.wechat.token == "healthbot-dev"
    assert settings.wechat.api_base == "http://127.0.0.1:8080/_standin/wechat"


def test_dev_mode_keeps_its_keys_private_and_every_command_gets_the_same(tmp_path: Path) -> None:
    env = {"HEALTHBOT_DEV_DIR": str(tmp_path / "dev")}
    first, second = load_settings(env=env), load_settings(env=env)
    assert first.security.signing_keys == second.security.signing_keys
    assert first.security.data_key == second.security.data_key
    assert (tmp_path / "dev" / "keys.toml").stat().st_mode & 0o777 == 0o600
    other = load_settings(env={"HEALTHBOT_DEV_DIR": str(tmp_path / "elsewhere")})
    assert other.security.signing_keys != first.security.signing_keys


@pytest.mark.parametrize(("text", "names"), [
    ('[wechat]\napp_id = "wx1"\n', "wechat.token is missing"),
    ('[wechat]\ntoken = "t"\napp_id = "wx1"\nencoding_aes_key = "short"\n', "wechat.encoding_aes_key must be 43"),
    ('[wechat]\ntoken = "t"\n[server]\nport = "eighty"\n', "server.port must be a int"),
    ('[wechat]\ntoken = "t"\n[redis]\nurl = "mysql://x"\n', "redis.url must start with"),
    ('[wechat]\ntoken = "t"\n[wechat.extra]\n', "wechat.extra is not a known setting"),
    ('[wechat]\ntoken = "t"\n[security]\nindex_key = "abc"\ndata_key = "abc"\n', "security.index_key must decode"),
    ('[wechat]\ntoken = "t"\n' + KEYS.replace('active_key_id = "k1"', 'active_key_id = "k9"'),
     "security.active_key_id must name"),
    # Each of these was accepted at start-up and broke later, at a citizen's or a guard's request.
    ('[wechat]\ntoken = "t"\n[limits]\nmessages_per_minute = 0\n', "limits.messages_per_minute must be between 1"),
    ('[wechat]\ntoken = "t"\n[limits]\nverify_per_minute = -1\n', "limits.verify_per_minute must be between 1"),
    ('[wechat]\ntoken = "t"\n[limits]\nface_links_per_hour = 0\n', "limits.face_links_per_hour must be between"),
    ('[wechat]\ntoken = "t"\n[relatives]\nface_link_minutes = 99999999999999999999999\n',
     "relatives.face_link_minutes must be between 1 and 1440"),
    ('[wechat]\ntoken = "t"\n[server]\ndedup_ttl = 0\n', "server.dedup_ttl must be between 1"),
    ('[wechat]\ntoken = "t"\n[server]\nreply_deadline = nan\n', "server.reply_deadline must be between 0 and 5"),
    ('[wechat]\ntoken = "t"\n[status]\ntimeout = inf\n', "status.timeout must be between"),
    ('[wechat]\ntoken = "t"\n[status]\ncache_seconds = nan\n', "status.cache_seconds must be between"),
    ('[wechat]\ntoken = "t"\n[render]\nimage_cache_seconds = 3600\n',
     "render.image_cache_seconds must not exceed render.qr_token_ttl"),
    # Slips of type: a crash, or a value quietly other than the one written.
    ('[wechat]\ntoken = "t"\n[relatives]\nmax_per_user = inf\n', "relatives.max_per_user must be a int, got inf"),
    ('[wechat]\ntoken = "t"\n[relatives]\nmax_per_user = 8.7\n', "relatives.max_per_user must be a int, got 8.7"),
    ('[wechat]\ntoken = "t"\n[relatives]\nmax_guardians = true\n', "relatives.max_guardians must be a int"),
    ('[wechat]\ntoken = "t"\n[server]\nhost = 5\n', "server.host must be a str, got 5"),
    ('[wechat]\ntoken = "t"\n[server]\nbehind_proxy = "ture"\n', "server.behind_proxy must be a bool"),
])
def test_invalid_settings_are_refused_naming_the_key(tmp_path: Path, text: str, names: str) -> None:
    path = write(tmp_path, text if "[security]" in text else text + KEYS)
    with pytest.raises(ConfigError, match=names.replace(".", r"\.")):
        load_settings(path, env={})


def run_serve(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--config", str(config)],
                          capture_output=True, text=True, timeout=30, check=False)


def test_startup_stops_with_one_line_for_a_bad_aes_key(tmp_path: Path) -> None:
    done = run_serve(write(tmp_path, '[wechat]\ntoken = "t"\napp_id = "wx1"\nencoding_aes_key = "x"\n' + KEYS))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "wechat.encoding_aes_key" in lines[0] and "Traceback" not in done.stderr


def test_startup_stops_with_one_line_for_an_unreachable_redis(tmp_path: Path) -> None:
    done = run_serve(write(tmp_path, '[wechat]\ntoken = "t"\n[redis]\nurl = "redis://127.0.0.1:1/0"\n' + KEYS))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("healthbot: config error: redis.url: cannot reach")


def test_the_example_config_documents_every_key() -> None:
    import dataclasses
    import tomllib

    from bot.ops.config import SECTIONS, Settings

    example = tomllib.loads((Path(__file__).resolve().parent.parent / "config.example.toml").read_text("utf-8"))
    defaults = Settings()
    for section in SECTIONS:
        documented = set(example.get(section, {}))
        known = {f.name for f in dataclasses.fields(getattr(defaults, section))}
        assert documented == known, section
    assert example["menu"]["button"]


@pytest.mark.parametrize(("argv", "says"), [
    (["serve", "--workers", "99999999999999999999"], "--workers: must be from 1 to 256"),
    (["serve", "--workers", "0"], "--workers: must be from 1 to 256, got 0"),
    (["serve", "--port", "70000"], "--port: must be from 1 to 65535"),
    (["admin", "audit", "--count", "-5"], "--count: must be from 1 to 10000, got -5"),
    (["admin", "trace", "person", "--doc-type", "resident_id", "--doc-no", "x", "--days", "1e9"],
     "--days: '1e9' is not a whole number"),
])
def test_a_command_line_number_out_of_range_is_one_line_and_status_2(argv: list[str], says: str) -> None:
    done = subprocess.run([sys.executable, "-m", "bot.cli", *argv], capture_output=True, text=True, timeout=30,
                          check=False)
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr


def test_a_plugins_section_is_read_and_checked_when_the_plugin_asks_for_it(tmp_path: Path) -> None:
    """A section no core setting knows ([vaccination]) is kept as given, from the file and the environment,
    and checked like the core ones when its plugin reads it."""
    from bot.ops.config import UpstreamSettings

    base = '[wechat]\ntoken = "t"\n' + KEYS
    path = write(tmp_path, base + '\n[vaccination]\nurl = "http://127.0.0.1:9/v"\ntimeout = 1.5\n')
    section = load_settings(path, env={"HEALTHBOT_VACCINATION_TOKEN": "t0k"}).section("vaccination", UpstreamSettings)
    assert (section.url, section.timeout, section.token) == ("http://127.0.0.1:9/v", 1.5, "t0k")
    write(tmp_path, base + "\n[vaccination]\ntimeout = 0\n")
    with pytest.raises(ConfigError, match=r"vaccination.timeout must be between 0.05 and 60"):
        load_settings(path, env={}).section("vaccination", UpstreamSettings)
    write(tmp_path, base + "\n[vaccination]\nurll = 1\n")
    with pytest.raises(ConfigError, match=r"vaccination.urll is not a known setting"):
        load_settings(path, env={}).section("vaccination", UpstreamSettings)


def test_the_redis_password_is_never_printed(tmp_path: Path) -> None:
    """The banner and every "cannot reach" line show the URL with its password as ***."""
    from bot.cli.serve import banner

    url = "redis://:s3cretPW@127.0.0.1:1/0"
    env = {**os.environ, "HEALTHBOT_REDIS_URL": url}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--config",
                           str(write(tmp_path, '[wechat]\ntoken = "t"\n' + KEYS))],
                          capture_output=True, text=True, timeout=30, check=False, env=env)
    assert done.returncode == 2 and "cannot reach redis://:***@127.0.0.1:1/0" in done.stderr
    assert "s3cretPW" not in done.stdout + done.stderr
    settings = load_settings(write(tmp_path, '[wechat]\ntoken = "t"\n' + KEYS), env={"HEALTHBOT_REDIS_URL": url})
    assert "s3cretPW" not in banner(settings) and "redis://:***@127.0.0.1:1/0" in banner(settings)
    cluster = "redis+sentinel://user:pw2@h1:26379,h2:26379/mymaster/0"
    assert redacted(cluster) == "redis+sentinel://user:***@h1:26379,h2:26379/mymaster/0"
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
