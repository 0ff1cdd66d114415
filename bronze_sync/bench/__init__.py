"""The benchmark harness behind `bronze-sync bench` (PostgreSQL source; dlt; notebook-style)."""
