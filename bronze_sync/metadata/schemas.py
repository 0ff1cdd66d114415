"""Arrow schemas of the metadata Delta tables (ARCHITECTURE §5)."""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

PIPELINE_CONFIG = "PipelineConfig"
SYNC_AUDIT_LOG = "SyncAuditLog"
CHECKPOINT_HISTORY = "CheckpointHistory"
DATA_VALIDATION = "DataValidation"

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
            ("ChangeToken", pa.string()),  # source change-tracking position (Dataverse deltaLink)
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
}


def register_schema(name: str, schema: pa.Schema) -> None:
    """Declare the schema of a further metadata table (used by later features)."""
    SCHEMAS[name] = schema
