"""The app in a real browser: three turns, feedback and mood, a download, markup as text, screenshots.

Runs Debian's chromium (``apt-get install chromium``) through Playwright's sync API against the
app launched here on 127.0.0.1 with the keyword fake analyzer. Screenshots of the three tabs are
written to docs/screenshots/ (practice.png, progress.png, studio.png).
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from playwright.sync_api import expect, sync_playwright

from coach.paths import REPO_ROOT
from coach.ui.app import build_demo, launch_options
from tests.fakes import KeywordAnalyzer
from tests.test_app_practice import make_app

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
SCRIPT_REPLY = "<script>window.__palvelupeili_xss = 1</script><b>sorry</b> I understand, that sounds frustrating."
REPLIES = [
    "I'm sorry, three missed visits is awful. I'll sort this out myself today.",
    "You should have been home!!",
    SCRIPT_REPLY,
]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("e2e")
    app = make_app(tmp_path)
    demo = build_demo(KeywordAnalyzer(), store=app.store, scenarios_folder=app.catalog.folder)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    demo.launch(**launch_options(port=port), prevent_thread_lock=True, quiet=True)
    yield demo.local_url
    demo.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the e2e tests")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US", accept_downloads=True)
    page = context.new_page()
    outside = []
    page.on("request", lambda request: outside.append(request.url) if not request.url.startswith(app_url) else None)
    page.goto(app_url)
    # The page-load event has run once it has switched the language to the browser's (en-US).
    expect(page.locator("#interface-language").get_by_label("English")).to_be_checked()
    yield page
    context.close()
    assert outside == [], f"the page fetched something from outside this machine: {outside}"


def choose_scenario(page, title: str) -> None:
    page.locator("#scenario-choice input").click()
    page.get_by_role("option", name=re.compile(re.escape(title))).click()
    page.locator("#chat").get_by_text("Before you start", exact=False).or_(
        page.locator("#chat").get_by_text("on hold", exact=False)
    ).first.wait_for()


def send(page, text: str, number: int) -> None:
    box = page.locator("#reply textarea")
    box.fill(text)
    box.press("Enter")
    page.locator("#feedback").get_by_text(f"Your reply {number}").wait_for()


def test_three_turns_feedback_mood_download_and_markup_as_text(page):
    choose_scenario(page, "The technician who never came")
    page.locator("#checkin").get_by_text("stressed").click()
    moods = [page.locator("#mood-meter").inner_text()]
    for number, reply in enumerate(REPLIES, start=1):
        send(page, reply, number)
        moods.append(page.locator("#mood-meter").inner_text())
        expect(page.locator("#feedback")).to_contain_text("What went well")
        expect(page.locator("#tone")).to_contain_text("% confident")
    assert len(set(moods)) > 1, moods
    assert all("/ 10" in mood for mood in moods)
    assert page.locator("#mood-meter meter").count() == 1

    # the <script> reply is shown as text and never runs
    expect(page.locator("#chat")).to_contain_text("<script>window.__palvelupeili_xss = 1</script><b>sorry</b>")
    assert page.evaluate("window.__palvelupeili_xss") is None
    assert page.locator("#chat b").filter(has_text="sorry").count() == 0
    expect(page.locator("#feedback")).not_to_contain_text("**")

    with page.expect_download() as download:
        page.locator("#download-json").click()
    transcript = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert [turn["reply"] for turn in transcript["turns"]] == REPLIES
    assert transcript["checkin"] == "stressed"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "practice.png"), full_page=True)

    page.get_by_role("tab", name="Progress").click()
    expect(page.locator("#progress-summary")).to_contain_text("Sessions: 1")
    page.locator("#sessions-table").get_by_text("The technician who never came").last.click()
    expect(page.locator("#saved-report")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "progress.png"), full_page=True)


def test_the_studio_checks_as_you_type_and_draws_the_beat_graph(page):
    page.get_by_role("tab", name="Scenario studio").click()
    page.locator("#studio-open input").click()
    page.get_by_role("option", name="The technician who never came (telecom-technician.yaml)").click()
    expect(page.locator("#studio-status")).to_contain_text("Valid")
    expect(page.locator("#studio-graph svg")).to_have_count(1)
    page.wait_for_timeout(500)  # let Mermaid finish laying the graph out
    page.screenshot(path=str(SCREENSHOTS / "studio.png"), full_page=True)
    editor = page.locator("#studio-editor .cm-content")
    editor.click()
    page.keyboard.press("Control+Home")  # line 1: top level (the end of the file is inside a block of text)
    page.keyboard.type("unexpected_field: 1\n")
    expect(page.locator("#studio-status")).to_contain_text("problems")
    expect(page.locator("#studio-problems")).to_contain_text("unexpected_field")


def test_the_interface_language_is_remembered_by_the_browser(page):
    page.locator("#interface-language").get_by_text("Suomi").click()
    expect(page.get_by_role("tab", name="Harjoittele")).to_be_visible()
    page.reload()
    expect(page.get_by_role("tab", name="Edistyminen")).to_be_visible()
    expect(page.locator("#privacy-notice")).to_contain_text("tällä koneella")
