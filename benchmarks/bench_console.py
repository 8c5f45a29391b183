"""The console's overview with 100 connectors, in Debian's headless Chromium:

    python benchmarks/bench_console.py [--connectors 100] [--seconds 30]

A server with `--connectors` connectors (console_server.py) and traffic to them; the overview
is opened signed in, then measured:

- load: navigation start → every connector's row drawn (and DOMContentLoaded, load);
- while the metrics of every connector stream for `--seconds`: long tasks (> 50 ms, from a
  PerformanceObserver), frames drawn per second, and how late a 100 ms timer fires (input
  would wait as long).

Numbers are for comparing runs on the same machine; never assert them in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

from console_server import ADMIN_KEY, console_server

CHROMIUM = "/usr/bin/chromium"

PROBES = """
window.__bench = { longTasks: [], frames: 0, lateness: [] };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__bench.longTasks.push(entry.duration);
}).observe({ type: "longtask", buffered: true });
"""

STREAMING = """async (seconds) => {
  const b = window.__bench;
  b.longTasks.length = 0;
  let frames = 0;
  let running = true;
  const frame = () => { frames++; if (running) requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
  const lateness = [];
  let expected = performance.now() + 100;
  const timer = setInterval(() => {
    const now = performance.now();
    lateness.push(now - expected);
    expected = now + 100;
  }, 100);
  await new Promise((done) => setTimeout(done, seconds * 1000));
  running = false;
  clearInterval(timer);
  return { frames, lateness, longTasks: [...b.longTasks] };
}"""


def _ms(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms, max {ordered[-1]:.1f} ms"


async def measure(connectors: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        # bookstore (registry) + legacy (down) + the rest from config
        async with (
            console_server(Path(directory), extra=connectors - 2) as served,
            async_playwright() as playwright,
        ):
            traffic = asyncio.create_task(served.traffic(per_second=50))
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox"]
            )
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 900})
                await page.add_init_script(PROBES)
                await page.goto(f"{served.url}/console")
                await page.fill("#api-key", ADMIN_KEY)
                await page.click("#sign-in button[type=submit]")  # reloads the page
                await page.wait_for_selector("#who[data-role]")
                await asyncio.sleep(3)  # warm: the server has built every answer once

                results: dict[str, Any] = {"loads": []}
                for _ in range(3):
                    await page.reload()
                    drawn = await page.wait_for_function(
                        f"""() => document.querySelectorAll('tr[data-connector]').length
                               >= {len(served.names)} && performance.now()""",
                        polling="raf",
                    )
                    timing = await page.evaluate(
                        """() => { const n = performance.getEntriesByType("navigation")[0];
                                   return [n.domContentLoadedEventEnd, n.loadEventEnd]; }"""
                    )
                    results["loads"].append((await drawn.json_value(), *timing))
                await page.wait_for_function(
                    "document.querySelector('tr[data-connector] path.line-rate')"
                    ".getAttribute('d').length > 0"
                )
                results["streaming"] = await page.evaluate(STREAMING, seconds)
                results["rows"] = await page.locator("tr[data-connector]").count()
                return results
            finally:
                await browser.close()
                traffic.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connectors", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    results = asyncio.run(measure(args.connectors, args.seconds))
    print(f"overview with {results['rows']} connectors")
    for drawn, dom, load in results["loads"]:
        print(
            f"  load: rows drawn {drawn:.0f} ms after navigation start "
            f"(DOMContentLoaded {dom:.0f} ms, load {load:.0f} ms)"
        )
    streaming = results["streaming"]
    long_tasks = streaming["longTasks"]
    print(f"  streaming {args.seconds:.0f} s of metrics (one message a second for all):")
    print(f"    frames: {streaming['frames'] / args.seconds:.1f} per second")
    print(f"    long tasks: {len(long_tasks)}, {_ms(long_tasks)}")
    print(f"    100 ms timer lateness: {_ms(streaming['lateness'])}")


if __name__ == "__main__":
    main()
