"""Cost of one cold code-image render (QR + compose + PNG encode), in CPU time.

    python bench/render.py [--n 200]

Prints the median and p95 CPU milliseconds per image and the PNG size. A figure-printing script, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bot.domain.render import CodeCard
from bot.rendering import Renderer, find_cjk_font


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    renderer = Renderer(find_cjk_font())
    costs, size = [], 0
    for i in range(args.n + 5):
        colour = ("green", "yellow", "red")[i % 3]
        card = CodeCard("防疫健康信息码", {"green": "绿码", "yellow": "黄码", "red": "红码"}[colour], colour, "张*三",
                        "110***********002X",
                        f"2026-11-23 10:{i // 60 % 60:02d}:{i % 60:02d}", "您的健康码为绿码，可正常通行。",
                        f"https://bot.example.gov.cn/c/token{i:018d}")
        started = time.process_time()
        size = len(renderer.render_sync(card))
        if i >= 5:  # the first renders load fonts
            costs.append((time.process_time() - started) * 1000)
    q = statistics.quantiles(costs, n=20)
    print(f"renders={len(costs)}  cpu median={statistics.median(costs):.1f}ms  p95={q[18]:.1f}ms  png={size} bytes")


if __name__ == "__main__":
    main()
