"""What operators graph and alert on, in Prometheus' format, with prometheus_client.

One process: each app has its own registry (tests run several apps in one process). Several workers
(`healthbot serve --workers N`): the supervisor gives every worker the same PROMETHEUS_MULTIPROC_DIR before it
starts, prometheus_client writes each worker's values there, and a scrape of any worker returns the sums over
all of them, dead workers' counts included, so the series neither jumps between scrapes nor drops at a restart.
Label values are bounded by construction: routes, dialogs and outcomes are names in the code; message types
are WeChat's known ones or "other" (bot.wechat.inbound.KNOWN_KINDS).
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"
# Seconds, up to WeChat's 5 s: alerts compare the p99 with 3 s; the 4 s bucket is the reply deadline.
REPLY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 4.0, 5.0)

# name (as exported) -> (kind, help, label names)
DECLARED: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "healthbot_requests_total": ("counter", "Pushes answered, by route and message type.", ("route", "type")),
    "healthbot_request_seconds": ("histogram", "Push received to passive reply sent: what WeChat waits for.", ()),
    "healthbot_turn_seconds": ("histogram", "A turn's handler time, by route.", ("route",)),
    "healthbot_handler_runs_total": ("counter", "Handler runs; with retries deduplicated, one per distinct push "
                                                "(a glance's retry looks again).", ()),
    "healthbot_dedup_hits_total": ("counter", "Retries and replays answered without running the handler.", ()),
    "healthbot_glance_retries_total": ("counter", "Retries of a glance, which keeps no reply: looked at again.", ()),
    "healthbot_glance_races_total": ("counter", "Glances that wrote after all but met another turn of the user's, "
                                                "and ran again as whole turns.", ()),
    "healthbot_deadline_misses_total": ("counter", "Replies that missed the deadline: 正在生成 now, the reply by "
                                                   "customer-service message.", ()),
    "healthbot_async_sends_total": ("counter", "Customer-service messages, by outcome.", ("outcome",)),
    "healthbot_token_refreshes_total": ("counter", "access_token fetches from stable_token.", ()),
    "healthbot_api_errors_total": ("counter", "WeChat API errors, by errcode.", ("errcode",)),
    "healthbot_upstream_failures_total": ("counter", "Upstream calls that failed (timeout, status, nonsense), by "
                                                     "provider.", ("provider",)),
    "healthbot_dialogs_total": ("counter", "Dialogs, by name and event.", ("dialog", "event")),
    "healthbot_redis_errors_total": ("counter", "Turns that met an unreachable Redis.", ()),
    "healthbot_rate_limited_total": ("counter", "Messages refused by the per-user rate limit.", ()),
    "healthbot_notices_total": ("counter", "Customer-service notices: sent, held for the next message, shown "
                                "there.", ("outcome",)),
    "healthbot_colour_notices_total": ("counter", "Notices of a colour change or an appeal's answer, one per "
                                       "recipient: sent, outside_window, unsubscribed, failed.", ("outcome",)),
    "healthbot_notice_backlog": ("gauge", "Notices waiting in the stream, as last seen by a sender.", ()),
    "healthbot_sms_total": ("counter", "SMS code requests, by outcome (sent, or why not).", ("outcome",)),
    "healthbot_scans_total": ("counter", "Guards' scans of a code, by the colour shown.", ("colour",)),
    "healthbot_venue_entries_total": ("counter", "场所码 entries recorded, by whose.", ("whose",)),
    "healthbot_worker_replacements_total": ("counter", "Workers that died and were started again.", ()),
    "healthbot_standin_upstream": ("gauge", "1 for an upstream that runs as its stand-in in production, named in "
                                            "[upstreams] allow_standins.", ("name",)),
}


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._metrics: dict[str, Counter | Histogram] = {}
        self._gauges: dict[str, Gauge] = {}
        self._recorders: dict[tuple[object, ...], Callable[[float], None]] = {}
        for name, (kind, help_text, labels) in DECLARED.items():
            if kind == "gauge":  # in multiprocess mode the scrape shows the largest of the workers' values
                self._gauges[name] = Gauge(name, help_text, labels, registry=self.registry, multiprocess_mode="max")
            elif kind == "counter":
                self._metrics[name] = Counter(name.removesuffix("_total"), help_text, labels, registry=self.registry)
            else:
                self._metrics[name] = Histogram(name, help_text, labels, buckets=REPLY_BUCKETS, registry=self.registry)

    def _recorder(self, name: str, labels: dict[str, object]) -> Callable[[float], None]:
        """What counts into the series for these label values. prometheus_client's labels() validates and copies
        on every call; every push counts four times, so a series found once is kept (label values are bounded,
        so is this dict)."""
        key = (name, *labels.values())
        record = self._recorders.get(key)
        if record is None:
            metric = self._metrics[name]
            record = self._recorders[key] = _recorder(metric.labels(**labels) if labels else metric)
        return record

    def series(self, name: str) -> Callable[[float], None]:
        """A metric without labels, to count (a counter) or observe (a histogram) into directly: on a path every
        push takes, the name is looked up once, not per call."""
        return self._recorder(name, {})

    def inc(self, name: str, amount: float = 1.0, **labels: object) -> None:
        self._recorder(name, labels)(amount)

    def observe(self, seconds: float, name: str, **labels: object) -> None:
        self._recorder(name, labels)(seconds)

    def set(self, metric: str, value: float, /, **labels: object) -> None:
        """A gauge's value (not on any push's path)."""
        gauge = self._gauges[metric]
        (gauge.labels(**labels) if labels else gauge).set(value)

    def value(self, name: str, **labels: object) -> float:
        """This process's count (the sum over the label sets matching `labels`); tests read it."""
        wanted = {k: str(v) for k, v in labels.items()}
        total = 0.0
        for family in self.registry.collect():
            for sample in family.samples:
                if sample.name == name and wanted.items() <= sample.labels.items():
                    total += sample.value
        return total

    def render(self) -> bytes:
        """The scrape: this process's values, or every worker's summed when they share a directory."""
        if os.environ.get(MULTIPROC):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def _recorder(series: Counter | Histogram) -> Callable[[float], None]:
    """The series' own values, counted into directly: Counter.inc and Histogram.observe check and loop in Python
    on every call (a bucket is found by bisect instead), a measurable share of a push. Each value
    object (in-process or, with workers, a shared file) counts as prometheus_client itself would. Should a
    release of prometheus_client name these parts otherwise, its public methods serve."""
    if isinstance(series, Counter) and hasattr(series, "_value"):
        return series._value.inc  # type: ignore[no-any-return]
    if isinstance(series, Histogram) and all(hasattr(series, a) for a in ("_sum", "_buckets", "_upper_bounds")):
        total, buckets, bounds = series._sum, series._buckets, series._upper_bounds

        def observe(seconds: float) -> None:
            total.inc(seconds)
            buckets[bisect_left(bounds, seconds)].inc(1)

        return observe
    return series.inc if isinstance(series, Counter) else series.observe
