"""Fixtures of the sync tests: the Dataverse emulator too (reference tables)."""

from bronze_sync_tests.dataverse import emulator  # noqa: F401 - a fixture
