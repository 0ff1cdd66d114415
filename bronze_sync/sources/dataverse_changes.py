"""Change tracking: follow a saved deltaLink to upserted rows and `$deletedEntity` keys."""

from __future__ import annotations

import pyarrow as pa

from bronze_sync.sources.base import ChangeFeed
from bronze_sync.sources.dataverse_http import DataverseHttp
from bronze_sync.sources.dataverse_schema import EntityInfo, to_batch

CHANGE_TOKEN = "change_token"
DELETED = "$deletedEntity"


def read_delta(
    http: DataverseHttp, entity: EntityInfo, schema: pa.Schema, delta_link: str, prefer: str
) -> ChangeFeed:
    """Return the changes since `delta_link` (read eagerly: a delta is small) and the next link.

    Raises ChangeTokenExpiredError (0x80044352) when Dataverse no longer keeps them.
    """
    batches: list[pa.RecordBatch] = []
    deleted: list[str] = []
    wire = entity.wire_schema(schema)
    url: str | None = delta_link
    next_link = delta_link
    while url:
        body, _ = http.get(url, entity.logical_name, prefer)
        upserts = []
        for row in body.get("value", []):
            if DELETED in str(row.get("@odata.context", "")) or row.get("reason") == "deleted":
                deleted.append(str(row["id"]))
            else:
                upserts.append(row)
        if upserts:
            batch = to_batch(upserts, wire, entity.logical_name)
            batches.append(pa.RecordBatch.from_arrays(batch.columns, schema=schema))
        url = body.get("@odata.nextLink")
        next_link = body.get("@odata.deltaLink") or next_link
    key_field = schema.field(entity.primary_id)
    deleted_keys = pa.table({entity.primary_id: pa.array(deleted, pa.string())})
    if key_field.type != pa.string():
        deleted_keys = deleted_keys.cast(pa.schema([key_field]))
    return ChangeFeed(
        rows=iter(batches), deleted_keys=deleted_keys, state={CHANGE_TOKEN: str(next_link)}
    )
