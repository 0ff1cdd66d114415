"""Arrow schemas of the metadata Delta tables (ARCHITECTURE §5)."""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

PIPELINE_CONFIG = "PipelineConfig"
SYNC_AUDIT_LOG = "SyncAuditLog"
CHECKPOINT_HISTORY = "CheckpointHistory"
DATA_VALIDATION = "DataValidation"
ROLLBACK_STATE_SNAPSHOTS = "RollbackStateSnapshots"
ROLLBACK_COMPARISON_REPORTS = "RollbackComparisonReports"
ROLLBACK_APPROVALS = "RollbackApprovals"
STORAGE_HISTORY = "StorageHistory"
PII_VAULT = "PiiVault"

SCHEMAS: dict[str, pa.Schema] = {
    PIPELINE_CONFIG: pa.schema(
        [
            ("TableId", pa.string()),
            ("TableName", pa.string()),
            ("SchemaName", pa.string()),
            ("PrimaryKeyColumn", pa.string()),
            ("SyncEnabled", pa.bool_()),
            ("TrackDeletes", pa.bool_()),
            ("TableExists", pa.bool_()),
            ("HasTrackingColumns", pa.bool_()),
            ("LastPurgeDate", TS),
            ("PurgeRecordCount", pa.int64()),
            ("LastDailySync", TS),
            ("LastSchemaCheck", TS),
            ("CreatedDate", TS),
            ("ModifiedDate", TS),
            ("Notes", pa.string()),
            # Added by bronze_sync: the rest of the table's settings and operational state.
            ("SourceTable", pa.string()),
            ("CreatedColumn", pa.string()),
            ("ModifiedColumn", pa.string()),
            ("MaxDeleteFraction", pa.float64()),
            ("LastSyncStatus", pa.string()),
            ("LastSyncVersion", pa.int64()),
            ("SourceState", pa.string()),
            ("LastPurgeRecorded", TS),  # when LastPurgeDate was recorded (purge_window_days)
            ("ConsecutiveFailures", pa.int64()),  # circuit breaker (monitoring)
            ("BreakerOpenSince", TS),
            ("ChangeToken", pa.string()),  # source change-tracking position (Dataverse deltaLink)
            ("DroppedColumns", pa.string()),  # JSON list: bronze columns the source lacks
            ("AuditedThroughVersion", pa.int64()),  # every bronze version up to it is audited
            ("Scd2LoadedFrom", pa.string()),  # scd2: versions before it were never loaded
            ("SourceFingerprint", pa.string()),  # static: content fingerprint last synced
            ("FingerprintVersion", pa.int64()),  # static: the bronze version it produced
            ("LastFullKeyScan", TS),  # every source key last compared (full_key_scan_every_days)
            ("DailyCheckpointRetentionDays", pa.int64()),  # None: the Daily type's 7 days
            ("KeyState", pa.string()),  # JSON: key tally of LastSyncVersion (sync.noop)
            ("PiiPolicy", pa.string()),  # JSON: the pii policies bronze's values are under
        ]
    ),
    SYNC_AUDIT_LOG: pa.schema(
        [
            ("LogId", pa.string()),
            ("PipelineRunId", pa.string()),
            ("PipelineName", pa.string()),
            ("TableName", pa.string()),
            ("Operation", pa.string()),
            ("StartTime", TS),
            ("EndTime", TS),
            ("RowsProcessed", pa.int64()),
            ("RowsDeleted", pa.int64()),
            ("RowsPurged", pa.int64()),
            ("Status", pa.string()),
            ("ErrorMessage", pa.string()),
            ("RetryCount", pa.int32()),
            ("Notes", pa.string()),
            ("CreatedDate", TS),
            ("PartitionKey", pa.string()),
            ("DeltaVersion", pa.int64()),
            ("Recovered", pa.bool_()),  # rebuilt from the commit's metadata after a crash
            ("ChainSeq", pa.int64()),  # position in the hash chain (metadata.audit_chain)
            ("PrevHash", pa.string()),
            ("RowHash", pa.string()),
        ]
    ),
    CHECKPOINT_HISTORY: pa.schema(
        [
            ("CheckpointId", pa.string()),
            ("CheckpointName", pa.string()),
            ("CheckpointType", pa.string()),
            ("CreatedDate", TS),
            ("TablesIncluded", pa.int32()),
            ("TotalRows", pa.int64()),
            ("ValidationStatus", pa.string()),
            ("RetentionDate", pa.date32()),
            ("IsActive", pa.bool_()),
            ("Notes", pa.string()),
            ("CreatedBy", pa.string()),
            ("TableVersions", pa.string()),
            # JSON {table: {"timestamp": ms, "operation": name}}: the commit each version was
            # when pinned, so a rewritten version is detected (null on older rows).
            ("TableCommits", pa.string()),
            # Permanent (PrePurge, `checkpoint create --keep-forever`): never expires; only
            # `checkpoint retire` ends it. Null on older rows: not permanent.
            ("KeepForever", pa.bool_()),
        ]
    ),
    DATA_VALIDATION: pa.schema(
        [
            ("ValidationId", pa.string()),
            ("ValidationDate", TS),
            ("TableName", pa.string()),
            ("SourceRowCount", pa.int64()),
            ("BronzeRowCount", pa.int64()),
            ("ActiveRowCount", pa.int64()),
            ("DeletedRowCount", pa.int64()),
            ("PurgedRowCount", pa.int64()),
            ("ValidationPassed", pa.bool_()),
            ("Notes", pa.string()),
            ("ValidationContext", pa.string()),
            ("PipelineRunId", pa.string()),
        ]
    ),
    ROLLBACK_STATE_SNAPSHOTS: pa.schema(
        [
            ("SnapshotId", pa.string()),
            ("RollbackId", pa.string()),
            ("PipelineRunId", pa.string()),
            ("SnapshotType", pa.string()),  # Pre | Post
            ("CheckpointName", pa.string()),
            ("TableName", pa.string()),
            ("DeltaVersion", pa.int64()),
            ("TotalRows", pa.int64()),
            ("ActiveRows", pa.int64()),
            ("DeletedRows", pa.int64()),
            ("PurgedRows", pa.int64()),
            ("SampleKeys", pa.string()),  # JSON list of up to 100 keys
            ("CreatedDate", TS),
        ]
    ),
    ROLLBACK_COMPARISON_REPORTS: pa.schema(
        [
            ("ReportId", pa.string()),
            ("RollbackId", pa.string()),
            ("PipelineRunId", pa.string()),
            ("ReportType", pa.string()),  # Planned | Executed
            ("CheckpointId", pa.string()),
            ("CheckpointName", pa.string()),
            ("TableName", pa.string()),
            ("CurrentVersion", pa.int64()),
            ("CheckpointVersion", pa.int64()),
            ("NewVersion", pa.int64()),
            ("RowsNow", pa.int64()),
            ("RowsThen", pa.int64()),
            ("RowsRestored", pa.int64()),
            ("RowsRemoved", pa.int64()),
            ("RowsReappearing", pa.int64()),
            ("ValueChanges", pa.int64()),
            ("RowsUnchanged", pa.int64()),
            ("StateTransitions", pa.string()),  # JSON {"deleted->active": n, ...}
            ("RiskLevel", pa.string()),
            ("Anomalies", pa.string()),
            ("QualityScore", pa.int32()),
            ("Status", pa.string()),
            ("DryRun", pa.bool_()),
            ("ApprovalTokenHash", pa.string()),
            ("RequestedBy", pa.string()),
            ("Reason", pa.string()),
            ("Notes", pa.string()),
            ("CreatedDate", TS),
        ]
    ),
    # One row per approval token used by an execution: a token restores at most once.
    ROLLBACK_APPROVALS: pa.schema(
        [
            ("TokenHash", pa.string()),  # SHA-256 of the token (the token is never stored)
            ("RollbackId", pa.string()),
            ("PipelineRunId", pa.string()),
            ("CheckpointId", pa.string()),
            ("CheckpointName", pa.string()),
            ("TablesIncluded", pa.string()),  # comma-separated
            ("RequestedBy", pa.string()),
            ("UsedDate", TS),
        ]
    ),
    # One row per table per maintenance run: the storage trend (weekly_maintenance).
    STORAGE_HISTORY: pa.schema(
        [
            ("MeasurementId", pa.string()),
            ("PipelineRunId", pa.string()),
            ("MeasuredDate", TS),
            ("TableName", pa.string()),
            ("TableKind", pa.string()),  # bronze | metadata | history
            ("DeltaVersion", pa.int64()),
            ("FilesBefore", pa.int64()),
            ("FilesAfter", pa.int64()),
            ("BytesBefore", pa.int64()),
            ("BytesAfter", pa.int64()),
            ("BytesReclaimed", pa.int64()),
            ("Status", pa.string()),
            ("Notes", pa.string()),
        ]
    ),
    # One row per token of a tokenized PII column: the value, encrypted (pii.vault).
    PII_VAULT: pa.schema(
        [
            ("TableName", pa.string()),
            ("ColumnName", pa.string()),
            ("Token", pa.string()),
            ("Ciphertext", pa.string()),  # base64 of nonce + AES-256-GCM ciphertext
            ("CreatedDate", TS),
        ]
    ),
}


def register_schema(name: str, schema: pa.Schema) -> None:
    """Declare the schema of a further metadata table (used by later features)."""
    SCHEMAS[name] = schema
