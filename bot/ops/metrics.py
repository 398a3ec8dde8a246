"""Counters and a latency histogram, served at /metrics in Prometheus' text format. Per process."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 4.0, 5.0)

HELP = {
    "healthbot_requests_total": "Pushes answered, by message type and route.",
    "healthbot_request_seconds": "Time from push received to reply sent.",
    "healthbot_handler_runs_total": "Handler runs; with retries deduplicated, one per distinct push.",
    "healthbot_dedup_hits_total": "Retries answered with the first attempt's reply.",
    "healthbot_deadline_misses_total": "Replies that missed the deadline and followed by customer-service message.",
    "healthbot_async_sends_total": "Customer-service messages, by outcome.",
    "healthbot_token_refreshes_total": "access_token fetches from stable_token.",
    "healthbot_api_errors_total": "WeChat API errors, by errcode.",
    "healthbot_dialogs_total": "Dialogs, by name and event (started, completed, abandoned, expired).",
    "healthbot_redis_errors_total": "Turns that met an unreachable Redis.",
    "healthbot_rate_limited_total": "Messages refused by the per-user rate limit.",
}


class Metrics:
    def __init__(self) -> None:
        self.counters: dict[str, defaultdict[tuple[tuple[str, object], ...], float]] = defaultdict(
            lambda: defaultdict(float))
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.latency_count = 0

    def inc(self, name: str, amount: float = 1.0, **labels: object) -> None:
        # Labels are kept as given, in the caller's order; reading sorts and merges them (a few µs per push).
        self.counters[name][tuple(labels.items())] += amount

    def observe(self, seconds: float) -> None:
        self.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds
        self.latency_count += 1

    def series(self, name: str) -> dict[tuple[tuple[str, str], ...], float]:
        """The counter's values by label set, labels sorted by name and as text."""
        merged: defaultdict[tuple[tuple[str, str], ...], float] = defaultdict(float)
        for labels, value in self.counters.get(name, {}).items():
            merged[tuple(sorted((k, str(v)) for k, v in labels))] += value
        return dict(merged)

    def value(self, name: str, **labels: object) -> float:
        wanted = set((k, str(v)) for k, v in labels.items())
        return sum(v for key, v in self.series(name).items() if wanted <= set(key))

    def render(self) -> str:
        lines: list[str] = []
        for name in HELP:
            if name == "healthbot_request_seconds":
                lines += [f"# HELP {name} {HELP[name]}", f"# TYPE {name} histogram"]
                running = 0
                for bound, count in zip((*LATENCY_BUCKETS, "+Inf"), self.buckets, strict=True):
                    running += count
                    lines.append(f'{name}_bucket{{le="{bound}"}} {running}')
                lines += [f"{name}_sum {self.latency_sum:.6f}", f"{name}_count {self.latency_count}"]
                continue
            lines += [f"# HELP {name} {HELP[name]}", f"# TYPE {name} counter"]
            for labels, value in sorted((self.series(name) or {(): 0.0}).items()):
                text = ",".join(f'{k}="{v}"' for k, v in labels)
                lines.append(f"{name}{{{text}}} {value:g}" if text else f"{name} {value:g}")
        return "\n".join(lines) + "\n"
