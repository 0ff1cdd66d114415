"""Debian's Chromium for Playwright, and the artifacts a failed browser test leaves."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "ui"
CHROMIUM_ENV = "BRONZE_SYNC_CHROMIUM"


def chromium_path() -> str:
    """Return Debian's Chromium ($BRONZE_SYNC_CHROMIUM overrides); fail when it is missing."""
    path = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        # Never a skip: the UI journeys are part of the suite and CI installs the browser.
        pytest.fail(
            f"Chromium is not installed ({path} is missing): install Debian's package with "
            "`apt-get install -y chromium`, or set BRONZE_SYNC_CHROMIUM to a Chromium binary",
            pytrace=False,
        )
    return path


def save_artifacts(page: Page, test_name: str, folder: Path = ARTIFACTS) -> None:
    """Write the page's screenshot and HTML as <folder>/<test-name>.png and .html."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / re.sub(r"[^\w.-]+", "_", test_name)
    page.screenshot(path=f"{stem}.png", full_page=True)
    Path(f"{stem}.html").write_text(page.content())
