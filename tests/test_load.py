"""A CI-sized load run: 200 citizens through whole journeys at once, each code then taken over by a second
account, and every invariant checked."""

from __future__ import annotations

from pathlib import Path

from bench.load import Citizen, Load, check, handler_runs, secrets_of, summary
from bot.devkit.standin import StandInState
from bot.ops.config import load_settings, new_key
from tests.conftest import AES_KEY, APP_ID, APP_SECRET, METRICS_TOKEN, REDIS_URL, TOKEN
from tests.helpers import Worker

USERS = 200


async def test_two_hundred_citizens_at_once_lose_nothing(tmp_path: Path, prefix: str,
                                                         standin: tuple[str, StandInState]) -> None:
    base, state = standin
    config = tmp_path / "load.toml"
    config.write_text(
        f'[wechat]\ntoken = "{TOKEN}"\napp_id = "{APP_ID}"\napp_secret = "{APP_SECRET}"\n'
        f'encoding_aes_key = "{AES_KEY}"\napi_base = "{base}"\n'
        f'[redis]\nurl = "{REDIS_URL}"\nprefix = "{prefix}"\n'
        f'[security]\nindex_key = "{new_key()}"\ndata_key = "{new_key()}"\nsigning_keys = "k1:{new_key()}"\n'
        'active_key_id = "k1"\n'
        '[upstreams]\nallow_standins = ["identity", "face", "sms"]\n'
        f'[server]\nmetrics_token = "{METRICS_TOKEN}"\n'
        "[limits]\nmessages_burst = 100\n", encoding="utf-8")  # simulated citizens type in milliseconds
    worker = Worker(config, tmp_path / "server.log")
    try:
        await worker.ready()
        settings = load_settings(config, env={})
        citizens = [Citizen(n, "ci") for n in range(USERS)]
        load = Load(settings, worker.url, retry_ratio=0.1, takeovers=True)
        import time

        started = time.perf_counter()
        report = await load.run(citizens, concurrency=50)
        elapsed = time.perf_counter() - started
        runs = await handler_runs(worker.url, METRICS_TOKEN)
        codes = [code for m in state.sms for code in __import__("re").findall(r"\d{6}", m["text"])]
        worker.stop()
        log = (tmp_path / "server.log").read_text(encoding="utf-8")
        secrets = [*secrets_of(settings, citizens, codes), state.token]
        problems = await check(settings, report, citizens, runs, secrets, log)
        print("\n" + summary(report, elapsed, USERS))
    finally:
        worker.stop()
    assert problems == [], problems
    assert len(report.claimed) == USERS
    assert sum(report.bound.values()) == 150 and report.refused_full == 50  # 4 users per child, 3 may bind
    assert report.retries > 0
    assert len(report.taken_over) == USERS and report.moved_told == USERS
