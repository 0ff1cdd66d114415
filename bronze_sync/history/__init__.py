"""Row history and change feed: every version of every bronze row (ARCHITECTURE §10)."""

from bronze_sync.history.columns import HISTORY_COLUMNS, history_uri
from bronze_sync.history.feed import read_changes, version_range
from bronze_sync.history.timeline import row_timeline

__all__ = ["HISTORY_COLUMNS", "history_uri", "read_changes", "row_timeline", "version_range"]
