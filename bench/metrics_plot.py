"""Requests/s and p99 reply time over a load run, drawn from what /metrics says: the operator's view.

    python -m bench.metrics_plot --url http://127.0.0.1:8080 --seconds 60 --out docs/images/load-metrics.png

Scrapes /metrics once a second (with --workers N, any worker answers with the sum over all), takes the
differences between scrapes, and plots requests/s and the p99 of healthbot_request_seconds per second.
Needs matplotlib (`pip install -e ".[bench]"`).
"""

from __future__ import annotations

import argparse
import itertools
import re
import time
import urllib.request

BUCKET = re.compile(r'^healthbot_request_seconds_bucket\{le="([^"]+)"\} (\S+)$', re.M)
COUNT = re.compile(r"^healthbot_request_seconds_count (\S+)$", re.M)


def scrape(url: str) -> tuple[float, dict[float, float]]:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:  # noqa: S310 - our own server
        page = response.read().decode()
    count = float(COUNT.search(page).group(1)) if COUNT.search(page) else 0.0
    buckets = {float("inf") if le == "+Inf" else float(le): float(v) for le, v in BUCKET.findall(page)}
    return count, buckets


def p99(before: dict[float, float], after: dict[float, float]) -> float:
    """The 99th percentile of the observations between two scrapes, by linear interpolation in the bucket."""
    deltas = sorted((le, after[le] - before.get(le, 0.0)) for le in after)
    total = deltas[-1][1] if deltas else 0.0
    if total <= 0:
        return 0.0
    target, lower, below = 0.99 * total, 0.0, 0.0
    for le, cumulative in deltas:
        if cumulative >= target:
            if le == float("inf"):
                return lower
            return lower + (le - lower) * (target - below) / max(cumulative - below, 1e-9)
        lower, below = le, cumulative
    return lower


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--out", default="docs/images/load-metrics.png")
    parser.add_argument("--title", default="healthbot under load, from /metrics")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = []
    started = time.monotonic()
    while time.monotonic() - started < args.seconds:
        samples.append((time.monotonic() - started, *scrape(args.url)))
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started) % 1.0))
    xs, rates, p99s = [], [], []
    for (t0, c0, b0), (t1, c1, b1) in itertools.pairwise(samples):
        xs.append(t1)
        rates.append((c1 - c0) / (t1 - t0))
        p99s.append(p99(b0, b1) * 1000)
    figure, left = plt.subplots(figsize=(9, 4.5), dpi=100)
    left.plot(xs, rates, color="#1aad19", label="requests/s")
    left.set_xlabel("seconds into the run")
    left.set_ylabel("requests/s", color="#1aad19")
    right = left.twinx()
    right.plot(xs, p99s, color="#e53935", label="p99 reply time")
    right.set_ylabel("p99 reply time (ms)", color="#e53935")
    left.set_title(args.title)
    figure.tight_layout()
    figure.savefig(args.out)
    print(f"{len(xs)} points: peak {max(rates, default=0):.0f} requests/s, worst p99 {max(p99s, default=0):.0f} ms "
          f"-> {args.out}")


if __name__ == "__main__":
    main()
