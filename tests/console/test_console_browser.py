"""`modelyard ui` in headless Chromium: the models page, then the model's page after its
rollout was rolled back, with a screenshot in the test's temporary folder.

Skips without Debian's ``chromium`` and ``chromium-driver``, except under ``CI=true``, where
it fails (``.ci/run`` installs them).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_harness import Console, Yard


@pytest.fixture
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        message = "needs chromium and chromedriver (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1800"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def test_the_console_shows_the_rolled_back_deployment(
    browser: Any, ui: Console, yard: Yard, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    browser.get(ui.url)
    assert "models" in browser.title
    rows = browser.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert any(r.text.startswith("ctr ads-ranking") for r in rows), [r.text for r in rows]
    browser.find_element(By.LINK_TEXT, "ctr").click()
    assert browser.find_element(By.ID, "serving").text == "1"
    page = browser.find_element(By.TAG_NAME, "body").text
    assert yard.reason in page
    assert "rolled_back" in page
    assert "error_rate" in page
    assert browser.find_elements(By.CSS_SELECTOR, "button[data-action=rollback]")
    shot = tmp_path / "console.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000
