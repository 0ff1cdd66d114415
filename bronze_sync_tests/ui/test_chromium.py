"""A missing Chromium fails the browser tests with how to install it (never a skip)."""

from __future__ import annotations

import pytest

from bronze_sync_tests.ui.browser import CHROMIUM_ENV, chromium_path


def test_missing_chromium_fails_and_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv(CHROMIUM_ENV, str(tmp_path / "chromium"))
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install -y chromium"):
        chromium_path()


def test_chromium_override_is_used_when_it_exists(monkeypatch, tmp_path):
    binary = tmp_path / "chromium"
    binary.write_text("")
    monkeypatch.setenv(CHROMIUM_ENV, str(binary))
    assert chromium_path() == str(binary)
