"""The Dagster layer: it only wires the domain code into assets, jobs, schedules, sensors.

`bronze_sync.defs.location` assembles them into the code location.
"""
