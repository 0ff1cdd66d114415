"""Fixtures of this folder: the Dataverse emulator."""

from bronze_sync_tests.dataverse import emulator  # noqa: F401 - a fixture
