"""The console links each finished conference to its Insights summary (issue 22): the finished-conferences list
and the conference page carry a Summary link; the summary page shows the Conference Summary and the
Participant Summaries (scoped to the account: another account's conference is 404). One short browser check
follows the link in headless Chromium (skipped without Debian's chromium + chromium-driver)."""
from __future__ import annotations

import base64
import re
import shutil

import pytest

from console_rig import AC, OTHER, OTHER_TOKEN, TOKEN, get, meeting
from console_rig import app, server  # noqa: F401  (pytest fixtures)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def _finished(server, app, tmp_path):
    ann, ben, sid = meeting(server, tmp_path, total_s=20, on_s=0.5, off_s=0.5)
    assert app.wait_event("participant-speech-start")   # engine time passed since both joined
    server.bridge.end_conference(AC, sid)
    assert app.wait_event("conference-end")
    return ann, ben, sid


def test_finished_conferences_link_to_their_summary(server, app, tmp_path):
    ann, ben, sid = _finished(server, app, tmp_path)
    index = get(server, "/console/").text
    finished = index.split("Finished conferences")[1]
    links = re.findall(r'class="summary-link" href="([^"]+)"', finished)
    assert links == [f"/console/conferences/{sid}/summary"]
    conference_page = get(server, f"/console/conferences/{sid}").text
    assert f'id="summary-link" href="/console/conferences/{sid}/summary"' in conference_page
    page = get(server, links[0])
    assert page.status_code == 200
    assert f'href="{server.base_url}/v1/Conferences/{sid}"' in page.text         # the REST JSON of it
    fields = dict(re.findall(r"<tr><th>(\w+)</th><td>([^<]*)</td></tr>", page.text))
    assert fields["max_concurrent_participants"] == "2" and fields["unique_participants"] == "2"
    assert fields["end_reason"] == "conference_ended_via_api" and fields["processing_state"] == "complete"
    rows = re.findall(r'<tr data-call="(CA\w+)">', page.text)
    assert sorted(rows) == sorted([ann.call_sid, ben.call_sid])
    assert page.text.count("not measured") == 2       # no emulated network: no quality figures
    assert get(server, links[0], auth=(OTHER, OTHER_TOKEN)).status_code == 404
    assert get(server, links[0], auth=None).status_code == 401


@pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver")
def test_browser_follows_the_summary_link(server, app, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    _, _, sid = _finished(server, app, tmp_path)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try:
        driver.set_page_load_timeout(15)
        token = base64.b64encode(f"{AC}:{TOKEN}".encode()).decode()
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": "Basic " + token}})
        driver.get(server.base_url + "/console/")
        driver.find_element(By.CSS_SELECTOR, "#finished-conferences a.summary-link").click()
        assert driver.find_element(By.CSS_SELECTOR, "#summary").get_attribute("data-sid") == sid
        assert len(driver.find_elements(By.CSS_SELECTOR, "#summary-participants tbody tr")) == 2
        driver.save_screenshot(str(tmp_path / "summary.png"))
    finally:
        driver.quit()
