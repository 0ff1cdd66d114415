"""Browser fixtures: one project and `bronze-sync ui` per module, Chromium, failure screenshots."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from bronze_sync_tests.ui.browser import chromium_path, save_artifacts
from bronze_sync_tests.ui.project import Project, prepare_project, running_ui

VIEWPORT = {"width": 1400, "height": 900}
# Generous waits for a loaded machine: runs go through the daemon's queue and start processes.
STEP_TIMEOUT_MS = 60_000
REPORTS = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep the call phase's report on the test, for the page fixture's teardown."""
    report = yield
    if report.when == "call":
        item.stash[REPORTS] = report
    return report


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """Return a synced project folder with `bronze-sync ui` serving it on a free port."""
    chromium_path()  # fail before minutes of set-up
    folder = tmp_path_factory.mktemp("ui_project")
    project = prepare_project(folder)
    with running_ui(project, folder / "ui.log") as url:
        project.url = url
        yield project


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Return Playwright's sync API."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Return headless Debian Chromium (Playwright's own download is not used)."""
    browser = playwright.chromium.launch(executable_path=chromium_path())
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser, project: Project, request: pytest.FixtureRequest) -> Iterator[Page]:
    """Return a fresh page on the UI; save its screenshot and HTML when the test failed."""
    context = browser.new_context(viewport=VIEWPORT, base_url=project.url)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    expect.set_options(timeout=STEP_TIMEOUT_MS)
    page = context.new_page()
    yield page
    report = request.node.stash.get(REPORTS, None)
    if report is not None and report.failed:
        save_artifacts(page, request.node.name)
    context.close()
