"""Screenshots of the web console for docs/CONSOLE.md (``nox -s screenshots``).

Serves the demo workflow of tests/console_server.py, starts a few cases
(one done, one waiting for its payment, one cancelled, one running), and
has headless Chromium (the distribution's, through Selenium) save the case
list and a case page to ``docs/img/console-list.png`` and
``docs/img/console-case.png``.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from console_server import ConsoleThread, chromium, demo_registry  # noqa: E402


def _post(url: str, body: dict[str, object]) -> None:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"content-type": "application/json"}, method="POST"
    )
    urllib.request.urlopen(req, timeout=10).close()  # noqa: S310 - our own loopback server


def _wait_state(console: ConsoleThread, case_id: str, state: str) -> None:
    console.call(lambda sub: sub.wait_state(case_id, state))


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with ConsoleThread(demo_registry(prepare_seconds=0.2)) as console:
        api = console.url + "/api/cases"
        for i, who in enumerate(("ann", "bo", "cy", "di"), 1):
            _post(api, {"workflow": "order", "case_id": f"order-{i}", "ctx": {"customer": who}})
        for cid in ("order-1", "order-2", "order-3", "order-4"):
            _wait_state(console, cid, "waiting_signal")
        _post(f"{api}/order-1/signal", {"name": "paid", "payload": {"eur": 30}})
        _post(f"{api}/order-3/cancel_region", {"region": "payment"})
        _post(f"{api}/order-4/cancel", {})
        _post(api, {"workflow": "order", "case_id": "order-5", "ctx": {"customer": "ed"}})
        for cid in ("order-1", "order-3", "order-4"):
            _wait_state(console, cid, "done")
        driver = chromium()
        try:
            driver.set_window_size(1280, 640)
            driver.get(console.url + "/")
            time.sleep(1.5)  # one refresh of the list
            driver.save_screenshot(str(out / "console-list.png"))
            driver.set_window_size(1280, 1500)
            driver.get(console.url + "/cases/order-1")
            time.sleep(0.5)
            driver.save_screenshot(str(out / "console-case.png"))
        finally:
            driver.quit()
    print(f"wrote {out / 'console-list.png'} and {out / 'console-case.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "img")
