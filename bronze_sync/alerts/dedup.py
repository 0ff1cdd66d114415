"""The AlertLog metadata table: every alert sent or suppressed, for deduplication across runs."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import pyarrow as pa
import pyarrow.compute as pc

from bronze_sync.alerts.model import Alert
from bronze_sync.metadata.schemas import TS, register_schema
from bronze_sync.metadata.store import MetadataStore

ALERT_LOG = "AlertLog"
register_schema(
    ALERT_LOG,
    pa.schema(
        [
            ("AlertId", pa.string()),
            ("SentDate", TS),
            ("Fingerprint", pa.string()),
            ("Severity", pa.string()),
            ("Subject", pa.string()),
            ("JobName", pa.string()),
            ("Tables", pa.string()),
            ("ErrorClass", pa.string()),
            ("PipelineRunId", pa.string()),
            ("Transports", pa.string()),
            ("Suppressed", pa.bool_()),
            ("Notes", pa.string()),
        ]
    ),
)


def fingerprint(alert: Alert) -> str:
    """Return what makes two alerts "the same failure": job, table set and error class."""
    key = "|".join([alert.job or "", ",".join(sorted(alert.tables)), alert.error_class or ""])
    if not alert.tables and not alert.error_class:
        key += "|" + alert.subject  # free-form alerts: the subject tells them apart
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def recently_sent(
    meta: MetadataStore, print_: str, now: dt.datetime, window: dt.timedelta
) -> dt.datetime | None:
    """Return when the same alert was last delivered within `window`, else None."""
    if window <= dt.timedelta(0):
        return None
    data = meta.read(ALERT_LOG, ["Fingerprint", "SentDate", "Suppressed"])
    same = pc.and_(
        pc.fill_null(pc.equal(data.column("Fingerprint"), print_), False),
        pc.invert(pc.fill_null(data.column("Suppressed"), False)),
    )
    recent = pc.greater(data.column("SentDate"), pa.scalar(now - window, TS))
    hits = data.filter(pc.and_(same, pc.fill_null(recent, False)))
    return pc.max(hits.column("SentDate")).as_py() if hits.num_rows else None


def log_alert(
    meta: MetadataStore,
    alert: Alert,
    now: dt.datetime,
    transports: list[str],
    suppressed: bool,
    notes: str | None = None,
) -> None:
    """Append the AlertLog row of one alert."""
    meta.append(
        ALERT_LOG,
        [
            {
                "AlertId": str(uuid.uuid4()),
                "SentDate": now,
                "Fingerprint": fingerprint(alert),
                "Severity": alert.severity.value,
                "Subject": alert.subject,
                "JobName": alert.job,
                "Tables": ",".join(alert.tables),
                "ErrorClass": alert.error_class,
                "PipelineRunId": alert.run_id,
                "Transports": ",".join(transports),
                "Suppressed": suppressed,
                "Notes": notes,
            }
        ],
    )
