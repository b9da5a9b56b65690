"""The console as a person uses it: ``univoice serve`` on 127.0.0.1 (a real process),
Debian's chromium headless (Selenium, chromium-driver). Screenshots go to ``artifacts/``
(printed); ``UNIVOICE_DOCS_SCREENSHOT=1`` also writes the README's ``docs/console.png``.

Without chromium, chromedriver or selenium these tests skip, saying what is missing;
with ``UNIVOICE_REQUIRE_BROWSER=1`` (``.ci/run`` sets it) they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from univoice.simulator.callbacks import SIGNATURE_HEADER, sign

from .browser import console_messages, find_browser, screenshot, start_chromium
from .server import EVIL, PASSWORD, ROOT, SECRET, ConsoleServer, basic, evil_flow, write_config

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

MENU = "steps_1"
SALES_HANGUP = "steps_1_gather_options_1_steps_2"
SALES_TRANSFER = "steps_1_gather_options_1_steps_1"
SUPPORT_MENU = "steps_1_gather_options_2_steps_0"
TICKET = "steps_1_gather_options_2_steps_0_gather_options_2_steps_0"
WAIT = 15.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    find_browser()  # skip (or fail, in CI) before starting anything
    folder = tmp_path_factory.mktemp("console")
    config = write_config(folder, inbound={"+31200000666": evil_flow(folder)})
    running = ConsoleServer(folder, ROOT / "examples" / "support_ivr.yaml", config)
    yield running
    running.stop()
    output = running.output()
    assert PASSWORD not in output and SECRET not in output  # nothing secret in the log


@pytest.fixture
def chromium() -> Iterator[Callable[..., WebDriver]]:
    started: list[WebDriver] = []

    def start(authorization: str | None = basic()) -> WebDriver:
        driver = start_chromium(authorization)
        started.append(driver)
        return driver

    yield start
    for driver in started:
        driver.quit()


def wait(driver: WebDriver, condition: Callable[[WebDriver], Any], what: str) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, WAIT).until(condition)
    except TimeoutException:
        screenshot(driver, "console-failure.png")
        raise AssertionError(f"timed out waiting for {what}") from None


def by_id(driver: WebDriver, element_id: str) -> WebElement:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def press(driver: WebDriver, key: str) -> None:
    from selenium.webdriver.common.by import By

    before = len(driver.find_elements(By.CSS_SELECTOR, "#uv-transcript li"))
    status = by_id(driver, "uv-status").text
    entry = by_id(driver, "uv-entry").text
    driver.find_element(By.CSS_SELECTOR, f'#uv-keypad button[data-key="{key}"]').click()
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#uv-transcript li")) != before
         or by_id(d, "uv-status").text != status or by_id(d, "uv-entry").text != entry,
         f"the answer to key {key}")


def current(driver: WebDriver) -> str:
    """The id of the diagram node drawn as current (exactly one)."""
    from selenium.webdriver.common.by import By

    nodes = driver.find_elements(By.CSS_SELECTOR, "#uv-diagram g.node.uv-current")
    assert len(nodes) == 1, [n.get_attribute("id") for n in nodes]
    assert nodes[0].get_attribute("aria-current") == "step"
    return str(nodes[0].get_attribute("id"))


def transcript(driver: WebDriver) -> list[str]:
    """The transcript's lines, read at once (the page replaces them as the call goes)."""
    lines: list[str] = driver.execute_script(
        "return Array.from(document.querySelectorAll('#uv-transcript li'),"
        " (li) => li.textContent)")
    return lines


def table(driver: WebDriver, selector: str) -> list[list[str]]:
    """A table's rows as cell texts, read at once (rows are replaced as events come)."""
    rows: list[list[str]] = driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), (tr) =>"
        " Array.from(tr.cells, (td) => td.firstChild ? td.firstChild.textContent : ''))",
        selector)
    return rows


def not_pwned(driver: WebDriver) -> None:
    assert driver.execute_script("return window.__pwned === undefined") is True


def no_script_errors(driver: WebDriver) -> None:
    errors = [m for m in console_messages(driver) if m.get("level") == "SEVERE"]
    assert errors == []


def open_support_line(driver: WebDriver, server: ConsoleServer) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{server.url}/univoice/console/")
    driver.find_element(By.LINK_TEXT, "Acme support line").click()
    wait(driver, lambda d: d.find_elements(By.ID, "uv-keypad"), "the simulator page")
    assert driver.title == "Acme support line · univoice console"
    by_id(driver, "uv-call").click()
    wait(driver, lambda d: by_id(d, "uv-status").text.startswith("Waiting for keys"),
         "the menu")
    assert current(driver) == MENU


def test_press_1_then_2_on_the_support_line(server: ConsoleServer,
                                            chromium: Callable[..., WebDriver]) -> None:
    driver = chromium()
    open_support_line(driver, server)
    assert by_id(driver, "uv-status").text == (
        "Waiting for keys: press 1, 2, 3 (attempt 1 of 3).")
    assert transcript(driver)[-1] == ('00:05.0 say "For sales, press 1. For support, press 2. '
                                      'To leave a message, press 3." [en-US, female]')

    # 1 is sales: put through (targets answer by default), then the flow hangs up.
    press(driver, "1")
    wait(driver, lambda d: by_id(d, "uv-status").text.startswith("Call ended"), "the end")
    assert current(driver) == SALES_HANGUP
    lines = transcript(driver)
    assert lines[5:] == [
        "00:11.1 caller pressed 1",
        '00:11.1 say "Connecting you to sales." [en-US, female]',
        "00:12.7 transfer to +31201234567 (caller ID +31201234567)",
        "00:17.7 +31201234567 answered the transfer",
        "00:47.7 transfer ended by the target after 30 s",
        "00:47.7 flow hung up",
        "00:47.7 completed: hangup after 44.7 s",
    ]
    assert by_id(driver, "uv-status").text == "Call ended: hangup after 44.7 s."
    visited = by_id(driver, SALES_TRANSFER).get_attribute("class") or ""
    assert "uv-visited" in visited

    # 2 after that: the call is over; nothing changes but the note.
    press(driver, "2")
    assert by_id(driver, "uv-status").text == "The call has ended: start a new call."
    assert transcript(driver) == lines
    assert current(driver) == SALES_HANGUP
    screenshot(driver, "console-press-1-then-2.png")
    no_script_errors(driver)


def test_support_then_technical_then_a_ticket_with_bandwidth_documents(
        server: ConsoleServer, chromium: Callable[..., WebDriver]) -> None:
    from selenium.webdriver.support.ui import Select

    driver = chromium()
    open_support_line(driver, server)
    press(driver, "2")
    assert current(driver) == SUPPORT_MENU
    press(driver, "2")
    assert current(driver) == TICKET
    assert by_id(driver, "uv-status").text == 'Waiting for keys: enter keys for "ticket", then #.'
    press(driver, "4")
    press(driver, "7")
    assert by_id(driver, "uv-entry").text == "47"

    # Bandwidth: the diagram marks where it calls the app back; the step as BXML.
    Select(by_id(driver, "uv-provider")).select_by_value("bandwidth")
    wait(driver, lambda d: "<Gather" in by_id(d, "uv-doc-step").text
         and "terminatingDigits" in by_id(d, "uv-doc-step").text, "the step's BXML")
    assert "<SpeakSentence" in by_id(driver, "uv-doc-first").text
    assert "continuation" in (by_id(driver, TICKET).get_attribute("class") or "")
    assert current(driver) == TICKET  # still highlighted in the re-drawn diagram
    shot = screenshot(driver, "console-simulator.png")
    if os.environ.get("UNIVOICE_DOCS_SCREENSHOT") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, ROOT / "docs" / "console.png")
        print(f"screenshot: {ROOT / 'docs' / 'console.png'}")

    press(driver, "1")
    press(driver, "1")
    press(driver, "#")
    wait(driver, lambda d: by_id(d, "uv-status").text.startswith("Call ended"), "the end")
    assert any("about ticket 4711." in line for line in transcript(driver))
    no_script_errors(driver)


def test_step_by_step_and_hanging_up(server: ConsoleServer,
                                     chromium: Callable[..., WebDriver]) -> None:
    driver = chromium()
    driver.get(f"{server.url}/univoice/console/flows/support_ivr")
    by_id(driver, "uv-step-mode").click()
    by_id(driver, "uv-call").click()
    wait(driver, lambda d: by_id(d, "uv-status").text.endswith("Next step or Run."),
         "a call that waits for Next step")
    assert transcript(driver) == []
    for count in (1, 2, 3, 4):
        by_id(driver, "uv-step").click()

        def revealed(d: WebDriver, n: int = count) -> bool:
            return len(transcript(d)) == n

        wait(driver, revealed, f"{count} events")
    assert current(driver) == "steps_0"
    by_id(driver, "uv-hangup").click()
    wait(driver, lambda d: by_id(d, "uv-status").text.startswith("Call ended"), "the end")
    assert transcript(driver)[-2:] == ["00:05.0 callee hung up",
                                       "00:05.0 completed: callee_hangup after 2 s"]
    no_script_errors(driver)


def post_callback(server: ConsoleServer, payload: dict[str, Any]) -> httpx.Response:
    url = f"{server.url}/univoice/simulator/events"
    body = json.dumps(payload).encode()
    return httpx.post(url, content=body, timeout=10, headers={
        "content-type": "application/json", SIGNATURE_HEADER: sign(SECRET, url, body)})


def test_a_callback_appears_in_the_live_list(server: ConsoleServer,
                                             chromium: Callable[..., WebDriver]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = chromium()
    driver.get(f"{server.url}/univoice/console/events")
    wait(driver, lambda d: by_id(d, "uv-conn").text == "live", "the event stream")
    call_id = f"call-{time.monotonic_ns()}-{EVIL}"
    answer = post_callback(server, {
        "id": f"{call_id}-7", "type": "gathered", "call_id": call_id, "tag": EVIL,
        "at": "2025-01-02T03:04:05+00:00", "data": {"digits": "42", "variable": EVIL}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["handled"] == 1

    def row(d: WebDriver) -> list[str] | None:
        for cells in table(d, "#uv-event-table tbody tr"):
            if cells[3] == call_id and cells[4] == "done":
                return cells
        return None

    cells = wait(driver, row, "the callback's event")
    assert cells[1:5] == ["simulator", "gather.digits", call_id, "done"]
    assert cells[5].startswith("digits=42, variable=<script>")
    calls = table(driver, "#uv-calls tbody tr")
    assert [call_id, "simulator", "1", "gather.digits"] in [c[:4] for c in calls]
    not_pwned(driver)
    assert driver.find_elements(By.CSS_SELECTOR, "#uv-events img") == []

    # Filters: by call id, by type, by provider.
    by_id(driver, "uv-f-call").send_keys(call_id[:24])
    wait(driver, lambda d: by_id(d, "uv-count").text.startswith("1 of"), "the call filter")
    by_id(driver, "uv-f-type").send_keys("call.completed")
    wait(driver, lambda d: by_id(d, "uv-count").text.startswith("0 of"), "the type filter")
    by_id(driver, "uv-f-type").clear()
    by_id(driver, "uv-f-type").send_keys("digits")
    wait(driver, lambda d: by_id(d, "uv-count").text.startswith("1 of"), "the type filter")
    Select(by_id(driver, "uv-f-provider")).select_by_value("bandwidth")
    wait(driver, lambda d: by_id(d, "uv-count").text.startswith("0 of"), "the provider filter")
    Select(by_id(driver, "uv-f-provider")).select_by_value("simulator")
    wait(driver, lambda d: by_id(d, "uv-count").text.startswith("1 of"), "the provider filter")
    screenshot(driver, "console-events.png")
    not_pwned(driver)
    no_script_errors(driver)


def test_flow_text_never_runs_as_markup(server: ConsoleServer,
                                        chromium: Callable[..., WebDriver]) -> None:
    from selenium.webdriver.common.by import By

    driver = chromium()
    driver.get(f"{server.url}/univoice/console/")
    assert EVIL in driver.find_element(By.CSS_SELECTOR, "table.flows").text
    driver.get(f"{server.url}/univoice/console/flows/evil")
    assert by_id(driver, "uv-sim").find_element(By.TAG_NAME, "h1").text == EVIL
    by_id(driver, "uv-call").click()
    wait(driver, lambda d: by_id(d, "uv-status").text.startswith("Waiting"), "the menu")
    press(driver, "1")
    assert f'say "{EVIL} chosen" [en-US]' in [line.split(" ", 1)[1]
                                              for line in transcript(driver)]
    assert driver.find_elements(By.CSS_SELECTOR, "main img, main script") == []
    not_pwned(driver)
    no_script_errors(driver)


def test_no_credentials_no_console(server: ConsoleServer,
                                   chromium: Callable[..., WebDriver]) -> None:
    """The browser is challenged (401 with WWW-Authenticate: it would ask for the
    password) and shows nothing of the console, without or with wrong credentials."""
    from selenium.webdriver.common.by import By

    for authorization in (None, basic(password="not-the-password")):
        driver = chromium(authorization=authorization)
        driver.get(f"{server.url}/univoice/console/flows/support_ivr")
        assert driver.find_elements(By.ID, "uv-keypad") == []
        assert "Acme" not in driver.page_source
        assert "univoice console" not in driver.title

