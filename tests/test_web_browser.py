"""The console in a real browser: headless Chromium (the distribution's), driven by Selenium.

A substrate and the console are served on a free loopback port from a
background thread (tests/console_server.py).  A missing browser fails
these tests: `.ci/run` installs it.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_server import ConsoleThread, chromium, demo_registry

import wftrio as wf

pytestmark = pytest.mark.browser

WAIT = 20.0


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    driver = chromium(str(tmp_path / "profile"))
    try:
        yield driver
    finally:
        driver.quit()


def post(url: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - our own loopback server
        result: dict[str, Any] = json.loads(r.read())
        return result


def row_state(driver: Any, case_id: str) -> str | None:
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, f'tr[data-case="{case_id}"]')
    return rows[0].get_attribute("data-state") if rows else None


def until(driver: Any, check: Any, what: str) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # the case page swaps its live part every second: an element may go stale between
    # finding it and reading it; the wait then looks again
    wait = WebDriverWait(
        driver, WAIT, poll_frequency=0.05, ignored_exceptions=(StaleElementReferenceException,)
    )
    return wait.until(check, message=what)


def test_watch_a_case_appear_change_state_and_complete_from_the_form(browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of

    with ConsoleThread(demo_registry(prepare_seconds=1.5)) as console:
        browser.get(console.url + "/")
        assert browser.title == "wftrio cases"
        assert row_state(browser, "b1") is None
        # a case started from outside appears in the open list, then changes state
        post(console.url + "/api/cases", {"workflow": "order", "case_id": "b1", "ctx": {"n": 1}})
        first = until(browser, lambda d: row_state(d, "b1"), "case b1 never appeared")
        assert first in ("running", "waiting_effect")
        until(
            browser,
            lambda d: row_state(d, "b1") == "waiting_signal",
            "case b1 never came to wait for its signal",
        )
        waits = browser.find_element(By.CSS_SELECTOR, 'tr[data-case="b1"] td:nth-child(4)').text
        assert waits == "signal paid"

        # open it: timeline and graph drawn, the waiting node marked
        browser.find_element(By.LINK_TEXT, "b1").click()
        until(browser, lambda d: d.title == "case b1", "the case page did not open")

        def drawn(d: Any) -> bool:
            timeline = d.find_element(By.CSS_SELECTOR, "svg.wf-timeline")
            bars = d.find_elements(By.CSS_SELECTOR, "svg.wf-timeline .bar")
            waiting = d.find_elements(By.CSS_SELECTOR, 'svg[data-pane="graph"] .waiting')
            state = d.find_element(By.ID, "state").text
            return (
                timeline.is_displayed()
                and len(bars) >= 2
                and bool(waiting)
                and (state == "waiting_signal")
            )

        until(browser, drawn, "no timeline bars, or no waiting node in the graph")

        # zoom the timeline in; the zoom outlives the page's live reloads
        def zoom_in(d: Any) -> tuple[Any, str, str]:
            svg = d.find_element(By.CSS_SELECTOR, 'svg[data-pane="timeline"]')
            home = svg.get_dom_attribute("viewBox")
            d.find_element(By.CSS_SELECTOR, 'button[data-for="timeline"][data-act="in"]').click()
            return svg, home, svg.get_dom_attribute("viewBox")

        svg, home, zoomed = until(browser, zoom_in, "could not zoom the timeline")
        assert zoomed != home
        until(browser, staleness_of(svg), "the live part was never reloaded")
        kept = until(
            browser,
            lambda d: d.find_element(
                By.CSS_SELECTOR, 'svg[data-pane="timeline"]'
            ).get_dom_attribute("viewBox"),
            "no timeline after the reload",
        )
        assert kept == zoomed

        # hovering a graph node shows its details under the timeline
        def hover_node(d: Any) -> str:
            from selenium.webdriver.common.action_chains import ActionChains

            node = d.find_element(By.CSS_SELECTOR, 'svg[data-pane="graph"] [data-label="reserve"]')
            ActionChains(d).move_to_element(node).perform()
            return str(d.find_element(By.ID, "details").text)

        details = until(browser, lambda d: "reserve" in hover_node(d), "no details on hover")
        assert details
        assert "status: done" in browser.find_element(By.ID, "details").text

        # send the signal from the form; the page follows the case to its end
        form = browser.find_element(By.ID, "signal-form")
        assert form.find_element(By.NAME, "name").get_attribute("value") == "paid"
        payload = form.find_element(By.NAME, "payload")
        payload.clear()
        payload.send_keys('{"eur": 30}')
        form.find_element(By.TAG_NAME, "button").click()
        until(
            browser,
            lambda d: d.find_element(By.ID, "state").text == "done",
            "the case page never showed the case done",
        )
        assert "delivered" in browser.find_element(By.ID, "msg").text
        ctx = json.loads(browser.find_element(By.CSS_SELECTOR, "pre.ctx").text)
        assert ctx["payment"] == {"eur": 30}
        assert ctx["shipped"]
        assert ctx["invoiced"]
        assert not browser.find_element(By.CSS_SELECTOR, ".forms").is_displayed()
        result = console.call(lambda sub: sub.wait("b1"))
        assert result.state == wf.CaseState.DONE

        # back on the list, the row is done
        browser.get(console.url + "/")
        until(browser, lambda d: row_state(d, "b1") == "done", "the list never showed done")


def test_start_a_case_from_the_list_and_refused_forms_change_nothing(browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with ConsoleThread(demo_registry(prepare_seconds=0), token="tok") as console:
        browser.get(console.url + "/")
        browser.find_element(By.CSS_SELECTOR, "details.start summary").click()
        start = browser.find_element(By.ID, "start-form")
        Select(start.find_element(By.NAME, "workflow")).select_by_visible_text("order")
        start.find_element(By.NAME, "case_id").send_keys("r1")
        start.find_element(By.TAG_NAME, "button").click()  # no token typed in yet
        until(
            browser,
            lambda d: "Bearer" in d.find_element(By.ID, "msg").text,
            "no error shown for the missing token",
        )
        assert "error" in browser.find_element(By.ID, "msg").get_attribute("class")
        assert console.call(_ids) == []
        browser.find_element(By.ID, "token").send_keys("tok")
        start.find_element(By.TAG_NAME, "button").click()
        until(browser, lambda d: row_state(d, "r1") == "waiting_signal", "r1 never listed")
        assert console.call(_ids) == ["r1"]

        browser.get(console.url + "/cases/r1")
        token = browser.find_element(By.ID, "token")
        assert token.get_attribute("value") == "tok"  # kept for the tab
        token.clear()
        token.send_keys("wrong")
        form = browser.find_element(By.ID, "signal-form")
        form.find_element(By.TAG_NAME, "button").click()
        until(
            browser,
            lambda d: "not valid" in d.find_element(By.ID, "msg").text,
            "no error shown for a wrong token",
        )
        assert console.call(_state, "r1") == "waiting_signal"
        token.clear()
        token.send_keys("tok")
        payload = form.find_element(By.NAME, "payload")
        payload.clear()
        payload.send_keys("{not json")
        form.find_element(By.TAG_NAME, "button").click()
        until(
            browser,
            lambda d: "not valid JSON" in d.find_element(By.ID, "msg").text,
            "no error shown for a bad payload",
        )
        assert console.call(_state, "r1") == "waiting_signal"
        region = browser.find_element(By.ID, "region-form")
        region.find_element(By.TAG_NAME, "button").click()
        until(
            browser,
            lambda d: d.find_element(By.ID, "state").text == "done",
            "cancelling the region did not let the case finish",
        )
        assert console.call(lambda sub: sub.wait("r1")).ctx["refunded"] is True


def test_with_protected_reads_the_browser_logs_in_then_watches_and_signals(
    browser: Any,
) -> None:
    from selenium.webdriver.common.by import By

    async def start(sub: wf.Substrate) -> None:
        await sub.new_case("order", {"item": "book"}, "p1")
        await sub.wait_state("p1", "waiting_signal")

    with ConsoleThread(
        demo_registry(prepare_seconds=0), token="tok", protect_reads=True
    ) as console:
        console.call(start)
        browser.get(console.url + "/cases/p1")
        until(browser, lambda d: "/login" in d.current_url, "not sent to the login form")
        assert "book" not in browser.page_source
        browser.find_element(By.ID, "login-token").send_keys("wrong")
        browser.find_element(By.ID, "login-go").click()
        until(browser, lambda d: "not valid" in d.page_source, "a wrong token was not refused")
        browser.find_element(By.ID, "login-token").send_keys("tok")
        browser.find_element(By.ID, "login-go").click()
        until(
            browser,
            lambda d: (
                d.current_url.endswith("/cases/p1")
                and d.find_element(By.ID, "state").text == "waiting_signal"
            ),
            "the login did not go back to the case page",
        )
        # the page's live part (a GET) and its signal form (a POST) go with the cookie
        form = browser.find_element(By.ID, "signal-form")
        form.find_element(By.TAG_NAME, "button").click()
        until(
            browser,
            lambda d: d.find_element(By.ID, "state").text != "waiting_signal",
            "the signal sent with the login cookie did not reach the case",
        )


async def _ids(sub: wf.Substrate) -> list[str]:
    return sub.case_ids()


async def _state(sub: wf.Substrate, case_id: str) -> str:
    return str(sub.status(case_id).state.value)


@pytest.mark.parametrize("which", ["CHROMIUM", "CHROMEDRIVER"])
def test_a_missing_browser_is_an_error_not_a_skip(
    which: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import console_server

    monkeypatch.setattr(console_server, which, str(tmp_path / "not-installed"))
    with pytest.raises(RuntimeError, match="not-installed is missing"):
        chromium(str(tmp_path / "profile"))
