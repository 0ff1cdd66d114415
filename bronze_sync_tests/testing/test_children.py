"""Test servers' child processes stop even when the test run ignores SIGTERM."""

from __future__ import annotations

import multiprocessing
import signal
import time

from bronze_sync.testing.children import default_signals, stop_child


def _sleep_ignoring_term(ready) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ready.set()
    time.sleep(600)


def _sleep_with_default_signals(ready) -> None:
    default_signals()
    ready.set()
    time.sleep(600)


def test_a_child_that_ignores_sigterm_is_killed():
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    child = context.Process(target=_sleep_ignoring_term, args=(ready,), daemon=True)
    child.start()
    assert ready.wait(60)
    stop_child(child, timeout=1.0)
    assert not child.is_alive() and child.exitcode == -signal.SIGKILL


def test_a_child_started_with_sigterm_ignored_stops_on_terminate_after_default_signals():
    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)  # as under nohup from a script
    try:
        context = multiprocessing.get_context("spawn")
        ready = context.Event()
        child = context.Process(target=_sleep_with_default_signals, args=(ready,), daemon=True)
        child.start()
    finally:
        signal.signal(signal.SIGTERM, before)
    assert ready.wait(60)
    stop_child(child, timeout=10.0)
    assert child.exitcode == -signal.SIGTERM  # terminate worked; no kill was needed
