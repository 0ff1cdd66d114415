"""Opening a damaged bronze table raises a BronzeError naming the table and the bad file."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from bronze_sync.bronze.storage import BronzeStore
from bronze_sync.errors import BronzeError


def test_truncated_log_entry_names_table_and_log_file(tmp_path):
    store = BronzeStore(str(tmp_path))
    uri = store.table_uri("account")
    write_deltalake(uri, pa.table({"id": ["a"]}))
    write_deltalake(uri, pa.table({"id": ["b"]}), mode="append")
    entry = Path(uri, "_delta_log", "00000000000000000001.json")
    entry.write_text(entry.read_text()[:40])

    with pytest.raises(BronzeError) as raised:
        store.open(uri)

    message = str(raised.value)
    assert message.startswith("account: Delta log file _delta_log/00000000000000000001.json")
    assert "is damaged (" in message and "Json error" in message
    assert "\n" not in message  # deltalake's backtrace is dropped


def test_missing_data_file_read_names_the_table(tmp_path):
    store = BronzeStore(str(tmp_path))
    uri = store.table_uri("account")
    write_deltalake(uri, pa.table({"id": ["a"]}))
    for data in Path(uri).glob("*.parquet"):
        data.unlink()
    delta = store.open(uri)
    assert delta is not None

    expected = r"^account: cannot read the Delta table at .*not found"
    with pytest.raises(BronzeError, match=expected), store.reading(uri):
        delta.to_pyarrow_table()
