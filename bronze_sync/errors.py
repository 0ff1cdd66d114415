"""The one exception hierarchy of bronze_sync.

Every error raised on purpose derives from `BronzeSyncError`. `retryable` tells the
orchestration layer whether trying again can help (a network blip) or cannot (bad data,
a guard that tripped); `exit_code` is what the command line returns for it.
"""

from __future__ import annotations

from typing import ClassVar


class BronzeSyncError(Exception):
    """Base of every error bronze_sync raises on purpose."""

    retryable: ClassVar[bool] = False
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, table: str | None = None) -> None:
        self.table = table
        super().__init__(f"{table}: {message}" if table else message)


class ConfigError(BronzeSyncError):
    """The configuration file or a setting in it is invalid."""

    exit_code = 2


class SourceError(BronzeSyncError):
    """The source refused or failed a request in a way retrying will not fix."""


class SourceUnavailableError(SourceError):
    """The source could not be reached; a later attempt may succeed."""

    retryable = True


class SourceSchemaError(SourceError):
    """A configured table or column does not exist in the source, or has an unusable type."""


class SourceDataError(SourceError):
    """The source holds data that cannot be synced (null or duplicate keys, bad values)."""


class BronzeError(BronzeSyncError):
    """A bronze Delta table cannot be read or written as required."""


class SchemaChangeError(BronzeError):
    """The source schema changed in a way bronze cannot follow without losing data."""


class MassDeleteError(BronzeError):
    """One sync would flag more rows as deleted than the table's guard allows."""


class CommitConflictError(BronzeError):
    """A Delta commit kept conflicting with concurrent writers."""

    retryable = True


class LeaseHeldError(BronzeError):
    """Another live writer holds the table's lease; a later attempt may get it."""

    retryable = True


class LeaseLostError(BronzeError):
    """This writer's lease expired and another writer took the table; nothing was committed."""

    retryable = True


class SparkEngineError(BronzeSyncError):
    """The Spark cluster a table syncs on could not run the sync (nothing was written)."""


class SparkUnavailableError(SparkEngineError):
    """The Spark Connect endpoint did not answer.

    Not retried within the run: the client already retried for `connect_timeout_seconds`;
    the run's own retries (`sync.run_retries`) try again later.
    """


class MetadataError(BronzeSyncError):
    """A metadata table cannot be read or written."""


class VaultError(MetadataError):
    """A PII token is not in the vault, or the vault key cannot decrypt it."""


class AuditChainError(MetadataError):
    """SyncAuditLog's hash chain is broken, or cannot be sealed."""


class CheckpointError(BronzeSyncError):
    """A checkpoint is missing, inactive or no longer restorable."""


class CheckpointUsageError(CheckpointError):
    """A checkpoint command was asked for something its checkpoint does not allow."""

    exit_code = 2


class InjectedFaultError(BronzeSyncError):
    """A failure a test injected at a fault point (`BRONZE_SYNC_FAULT=<point>:raise`)."""

    retryable = True


class HistoryError(BronzeSyncError):
    """The row history or change feed cannot answer (no history, unknown key)."""


class VersionRangeError(HistoryError):
    """A requested bronze version lies outside the range the history holds."""

    exit_code = 2
