"""`bronze-sync bench`: the reproducible benchmark (see docs/performance.md)."""

from __future__ import annotations

import importlib.util
import logging
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from bronze_sync.bench.worker import SPARK_TOOL  # standard library only: start-up stays light
from bronze_sync.cli import cli, console, err_console

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_ROWS = {"postgres": 1_000_000, "dataverse": 200_000}


@cli.command()
@click.option(
    "--rows",
    type=click.IntRange(min=1000),
    default=None,
    help="Rows in the source table [default: 1,000,000; 200,000 with --source dataverse].",
)
@click.option(
    "--source",
    type=click.Choice(["postgres", "dataverse"]),
    default="postgres",
    show_default=True,
    help="PostgreSQL (against dlt and the notebook way) or the Dataverse emulator.",
)
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False), help="Also write figures as JSON."
)
@click.option("--pg-url", default=DEFAULT_PG, show_default=True, help="PostgreSQL server to use.")
@click.option(
    "--tools", default="bronze_sync,dlt,notebook", show_default=True, help="Tools to compare."
)
@click.option("--workdir", type=click.Path(file_okay=False), default=None, help="Scratch folder.")
@click.option(
    "--memory-limit-mb",
    type=click.IntRange(min=64),
    default=None,
    help=(
        "Run every phase in a memory cgroup with this hard limit (Linux, root); "
        "bronze_sync also plans its memory by it (sync.memory_budget_mb)."
    ),
)
@click.option(
    "--engine",
    type=click.Choice(["native", "spark", "both"]),
    default="native",
    show_default=True,
    help=(
        "bronze_sync's engine: spark syncs on a local Sail Spark Connect server "
        "(as bronze_sync[spark]); both runs the two side by side."
    ),
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    default=150.0,
    show_default=True,
    help="Dataverse emulator latency per page.",
)
def bench(
    rows: int | None,
    source: str,
    json_path: str | None,
    pg_url: str,
    tools: str,
    workdir: str | None,
    memory_limit_mb: int | None,
    engine: str,
    latency_ms: float,
) -> None:
    """Measure initial, daily (1 % changes) and no-op syncs against dlt and the notebook way."""
    from bronze_sync.bench.report import machine_description, markdown, write_json

    # Rollback and maintenance report through alerts; the benchmark's output is the table.
    logging.getLogger("bronze_sync.alerts").setLevel(logging.ERROR)
    count = rows or DEFAULT_ROWS[source]
    if source == "dataverse" and engine != "native":
        raise click.UsageError("--engine spark|both benchmarks the PostgreSQL source only")
    if source == "dataverse":
        from bronze_sync.bench.dataverse import run_dataverse_bench

        err_console.print(f"syncing {count:,} rows through the Dataverse emulator …")
        results = run_dataverse_bench(count, latency_ms=latency_ms)
    else:
        results = _postgres(count, pg_url, _tools(tools, engine), workdir, memory_limit_mb)
    machine = machine_description(pg_url)
    console.print(markdown(results, machine), markup=False, highlight=False, soft_wrap=True)
    if source == "dataverse":
        from bronze_sync.bench.dataverse import summary

        lines = ["", *summary(results)]
        console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
    if json_path:
        write_json(Path(json_path), count, results, machine)


def _tools(tools: str, engine: str) -> list[str]:
    """Return the tools to run: bronze_sync once per engine asked (bronze_sync[spark])."""
    chosen = [t.strip() for t in tools.split(",") if t.strip()]
    unknown = set(chosen) - {"bronze_sync", "dlt", "notebook"}
    if unknown:
        raise click.UsageError(f"unknown tool(s): {', '.join(sorted(unknown))}")
    if engine == "native":
        return chosen
    if "bronze_sync" not in chosen:
        raise click.UsageError(f"--engine {engine} benchmarks bronze_sync: add it to --tools")
    if importlib.util.find_spec("pysail") is None or importlib.util.find_spec("pyspark") is None:
        raise click.UsageError(
            "--engine spark needs pysail and pyspark-client: pip install -e '.[spark]' pysail"
        )
    engines = {"spark": [SPARK_TOOL], "both": ["bronze_sync", SPARK_TOOL]}[engine]
    index = chosen.index("bronze_sync")
    return chosen[:index] + engines + chosen[index + 1 :]


def _postgres(
    rows: int, pg_url: str, chosen: list[str], workdir: str | None, memory_limit_mb: int | None
) -> list[dict[str, Any]]:
    """Run every chosen tool against a generated PostgreSQL table; return their figures."""
    from bronze_sync.bench import pg_source
    from bronze_sync.bench.harness import default_workdir, run_tool
    from bronze_sync.bench.sail import sail_server

    if "dlt" in chosen and importlib.util.find_spec("dlt") is None:
        raise click.UsageError("dlt is not installed: pip install -e '.[bench]'")
    folder = Path(workdir) if workdir else default_workdir()
    engine = sa.create_engine(pg_url)
    err_console.print(f"generating {rows:,} source rows in PostgreSQL …")
    pg_source.build_template(engine, rows)
    engine.dispose()
    results = []
    with ExitStack() as stack:
        server = None
        if SPARK_TOOL in chosen:
            server = stack.enter_context(sail_server())
            err_console.print(f"started a local Sail Spark Connect server at {server.remote}")
        for tool in chosen:
            results += run_tool(tool, rows, pg_url, folder, _progress, memory_limit_mb, server)
    if {"bronze_sync", SPARK_TOOL} & set(chosen):
        from bronze_sync.bench.rollback import bench_rollback

        err_console.print("rolling back 50 tables of 10,000 rows in one run …")
        results += bench_rollback(tables=50, rows_per_table=10_000, workdir=folder)
    return results


def _progress(line: str) -> None:
    """Print a progress line as it is (tool names such as bronze_sync[spark] are not markup)."""
    err_console.print(line, markup=False, highlight=False)
