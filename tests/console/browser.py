"""Debian's chromium, headless, driven by Selenium through Debian's chromium-driver.

Absent (no ``chromium``/``chromedriver`` binary or no ``selenium`` package): the browser
tests skip with the reason, unless ``UNIVOICE_REQUIRE_BROWSER=1`` (set by ``.ci/run``),
which makes them fail instead: CI must run them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"  # CI keeps what is here; .gitignore leaves it out
CHROMIUM = ("chromium", "chromium-browser")
SAVED: list[Path] = []  # screenshots taken, listed at the end of pytest's report


def find_browser() -> tuple[str, str]:
    """(chromium, chromedriver) paths; skips (or fails, in CI) when one is missing."""
    missing = []
    browser = next((p for p in map(shutil.which, CHROMIUM) if p), None)
    driver = shutil.which("chromedriver")
    if browser is None:
        missing.append("the chromium binary (apt-get install chromium)")
    if driver is None:
        missing.append("chromedriver (apt-get install chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install -e '.[test]')")
    if missing:
        reason = "browser tests need " + ", ".join(missing)
        if os.environ.get("UNIVOICE_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " (UNIVOICE_REQUIRE_BROWSER=1)", pytrace=False)
        pytest.skip(reason)
    assert browser is not None and driver is not None
    return browser, driver


def start_chromium(authorization: str | None, width: int = 1500, height: int = 1050
                   ) -> WebDriver:
    """Headless chromium sending ``authorization`` with every request (pages, scripts,
    fetch and EventSource alike), as a browser does once the user typed the password."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = find_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 f"--window-size={width},{height}", "--hide-scrollbars",
                 "--force-device-scale-factor=1", "--no-first-run", "--disable-extensions",
                 "--disable-background-networking", "--disable-sync",
                 "--disable-default-apps", "--disable-component-update"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    if authorization is not None:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                               {"headers": {"Authorization": authorization}})
    return driver


def console_messages(driver: WebDriver) -> list[dict[str, Any]]:
    """The browser console's log so far (errors of the page's scripts show up here)."""
    logs: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[attr-defined]
    return logs


def screenshot(driver: WebDriver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    if path not in SAVED:
        SAVED.append(path)
    return path
