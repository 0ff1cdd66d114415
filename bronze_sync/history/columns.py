"""The history table's layout: key columns, what changed, then the row image after the change."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.bronze.tracking import IS_DELETED, IS_PURGED, TRACKING_NAMES, UTC_TIMESTAMP
from bronze_sync.errors import BronzeError

BRONZE_VERSION = "BronzeVersion"
OPERATION = "Operation"
RUN_ID = "RunId"
PARTITION_KEY = "PartitionKey"
CHANGED_AT = "ChangedAt"
CHANGED_COLUMNS = "ChangedColumns"
# True on a ROLLBACK row whose key the restored version does not hold: the image is then
# the row as it was before the rollback removed it.
ROW_REMOVED = "RowRemoved"

# Per version (the same for every row of one bronze commit).
VERSION_FIELDS: tuple[pa.Field, ...] = (
    pa.field(BRONZE_VERSION, pa.int64(), nullable=False),
    pa.field(RUN_ID, pa.string()),
    pa.field(PARTITION_KEY, pa.string()),
    pa.field(CHANGED_AT, UTC_TIMESTAMP),
)
# Per row.
ROW_FIELDS: tuple[pa.Field, ...] = (
    pa.field(OPERATION, pa.string()),
    pa.field(CHANGED_COLUMNS, pa.list_(pa.string())),
    pa.field(ROW_REMOVED, pa.bool_()),
)
HISTORY_COLUMNS: tuple[str, ...] = tuple(f.name for f in (*VERSION_FIELDS, *ROW_FIELDS))
FLAG_COLUMNS = (IS_DELETED, IS_PURGED)
HISTORY_DIR = "history"

ROLLBACK = "ROLLBACK"
OPERATIONS = ("INSERT", "UPDATE", "DELETE", "PURGE", "UNDELETE", ROLLBACK)


def history_uri(store: BronzeStore, table: str) -> str:
    """Return the URI of bronze table `table`'s history table."""
    return f"{store.root}/{HISTORY_DIR}/{table}"


def source_columns(bronze: pa.Schema) -> list[str]:
    """Return the bronze schema's source columns (everything but the tracking columns)."""
    return [name for name in bronze.names if name not in TRACKING_NAMES]


def image_schema(bronze: pa.Schema, keys: Sequence[str]) -> pa.Schema:
    """Return the row image's columns: keys first, the other source columns, then the flags."""
    fields = [bronze.field(k) for k in keys]
    fields += [bronze.field(n) for n in source_columns(bronze) if n not in keys]
    fields += [pa.field(IS_DELETED, pa.bool_()), pa.field(IS_PURGED, pa.bool_())]
    return pa.schema(fields)


def history_schema(bronze: pa.Schema, keys: Sequence[str], table: str) -> pa.Schema:
    """Return the history table's schema for a bronze table of schema `bronze`."""
    image = image_schema(bronze, keys)
    clash = sorted(_clashes(image))
    if clash:
        raise BronzeError(
            f"source column(s) {', '.join(clash)} have the names of history columns "
            f"({', '.join(HISTORY_COLUMNS)}); the history table cannot hold both",
            table=table,
        )
    key_fields = [image.field(k) for k in keys]
    rest = [f for f in image if f.name not in keys]
    return pa.schema([*key_fields, *VERSION_FIELDS, *ROW_FIELDS, *rest])


def _clashes(image: pa.Schema) -> set[str]:
    reserved = {n.lower() for n in HISTORY_COLUMNS}
    return {n for n in image.names if n.lower() in reserved}
