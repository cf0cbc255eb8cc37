"""The console in a real headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by Selenium):
while a standalone conference runs, the page shows the participants, a talking indicator that turns on and
off with the caller's speech (server-sent events), and a Mute click that puts the badge up and makes the
app receive the participant-mute callback. A screenshot is saved under the test's tmp_path (and copied to
``$FSBRIDGE_CONSOLE_SCREENSHOT`` when set — how docs/console.png is made). Skipped only when Chromium or its
driver is not installed (``.ci/setup`` installs both)."""
from __future__ import annotations

import base64
import os
import shutil

import pytest

from console_rig import AC, TOKEN, meeting
from console_rig import app, server  # noqa: F401  (pytest fixtures)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="needs Debian's chromium and chromium-driver (installed by .ci/setup)")
WAIT_S = 15
CONSOLE_CLOCK = "1"   # real time: the page sees talk start and stop


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1200,1300", "--disable-extensions", "--no-first-run"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(WAIT_S)
    # Basic credentials on every request of the page (navigation, fetch, EventSource), as after the prompt.
    token = base64.b64encode(f"{AC}:{TOKEN}".encode()).decode()
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": "Basic " + token}})
    yield driver
    driver.quit()


def test_console_live_conference_mute(browser, server, app, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_S)
    browser.get(server.base_url + "/console/")
    assert "No conference is running" in browser.find_element(By.TAG_NAME, "body").text
    ann, ben, sid = meeting(server, tmp_path, total_s=60, on_s=1.0, off_s=1.6)
    wait.until(EC.element_to_be_clickable((By.LINK_TEXT, "OpsRoom"))).click()   # the list reloaded itself
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#conference[data-sid='%s']" % sid)))
    row = f"#participants tr[data-call='{ann.call_sid}']"
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#participants tr.participant")) == 2)
    assert "Ben" in browser.find_element(By.ID, "participants").text

    def talking(d):
        return d.find_element(By.CSS_SELECTOR, row + " .talk").get_attribute("data-talking")
    wait.until(lambda d: talking(d) == "true")            # Ann speaks …
    wait.until(lambda d: talking(d) == "false")           # … pauses …
    wait.until(lambda d: talking(d) == "true")            # … and speaks again: live, not a snapshot
    assert browser.find_element(By.CSS_SELECTOR, f"#participants tr[data-call='{ben.call_sid}'] .talk"
                                ).get_attribute("data-talking") == "false"

    browser.find_element(By.CSS_SELECTOR, row + " button[data-action='mute']").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, row + " .badge.muted")))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, row + " button[data-action='unmute']")))
    assert app.wait_event("participant-mute", "Ann", timeout=WAIT_S)
    assert server.bridge.state.participant(sid, ann.call_sid).muted is True
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#timeline rect.mute"))   # drawn in the page
    wait.until(lambda d: "participant-mute" in d.find_element(By.ID, "callbacks-wrap").text)  # log, live
    marks = browser.find_elements(By.CSS_SELECTOR, "#timeline circle.mark")
    assert marks
    marks[0].click()
    assert "participant-join" in browser.find_element(By.ID, "timeline-detail").text

    shot = tmp_path / "console.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("FSBRIDGE_CONSOLE_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["FSBRIDGE_CONSOLE_SCREENSHOT"])
    logs = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert logs == [], logs
