"""The UI journeys of issue 15, in headless Chromium against `bronze-sync ui` (dagster dev).

The module's project (conftest.py) synced batches today-4 and today-3 through the CLI, with
the source changing between them, and registered today-2 and today-1 without syncing them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.execution.backfill import BulkActionStatus
from deltalake import DeltaTable
from playwright.sync_api import Locator, Page, expect

from bronze_sync.defs.assets import asset_key
from bronze_sync.defs.jobs import DAILY_SYNC
from bronze_sync.defs.partitions import SYNC_BATCHES
from bronze_sync.defs.rollback import ANALYSE_OP, ROLLBACK_JOB
from bronze_sync_tests.ui.browser import REPO_ROOT, save_artifacts
from bronze_sync_tests.ui.project import TABLES, Project

pytestmark = pytest.mark.slow

SCREENSHOT_ENV = "BRONZE_SYNC_UPDATE_SCREENSHOT"
SCREENSHOT = REPO_ROOT / "docs" / "img" / "ui-assets.png"
# A run starts through the daemon's queue and spawns a worker and a process per step.
RUN_TIMEOUT_MS = 300_000
RUN_ENDED = re.compile(r"^(Success|Failure|Canceled)$")


def link(page: Page, name: str) -> Locator:
    """Return the link naming `name`; its accessible name adds icon names and hidden copies."""
    # Playwright passes the pattern to the browser as a /.../ literal: escape its slashes.
    pattern = re.escape(name).replace("/", r"\/")
    return page.get_by_role("link", name=re.compile(rf"(^|\s){pattern}(\s|$)"))


def open_job(page: Page, job: str) -> None:
    """Open a job's page the way a user does: Jobs, then the job's name."""
    page.goto("/jobs")
    link(page, job).click()
    expect(page).to_have_url(re.compile(f"/jobs/{job}"))


def toast_view(page: Page) -> Locator:
    """Return the View button of the toast a launch shows ("Launched run ...", "Created backfill ...")."""
    return page.get_by_role("button", name="View", exact=True).or_(
        page.get_by_role("link", name="View", exact=True)
    )


def wait_for_run_end(page: Page) -> str:
    """Wait on the run page until its status tag shows an end state; return the run id."""
    status = page.get_by_text(RUN_ENDED).first
    expect(status).to_be_visible(timeout=RUN_TIMEOUT_MS)
    run_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    assert status.inner_text() == "Success", f"run {run_id} ended {status.inner_text()}"
    return run_id


def materialized(instance: dg.DagsterInstance, table: str) -> set[str]:
    """Return the sync batches of `table` the instance has materializations for."""
    return set(instance.get_materialized_partitions(asset_key(table)))


def test_asset_catalog_shows_the_three_bronze_assets_with_partitions(
    page: Page, project: Project
) -> None:
    with project.instance() as instance:
        batches = instance.get_dynamic_partitions(SYNC_BATCHES)
        synced = materialized(instance, "account")
    assert {project.batch(4), project.batch(3)} <= synced
    page.goto("/")
    page.get_by_role("link", name="Catalog").click()
    for table in TABLES:
        expect(link(page, f"bronze / {table}")).to_be_visible()
    expect(page.get_by_text(f"{len(batches)} partitions", exact=True)).to_have_count(len(TABLES))
    if os.environ.get(SCREENSHOT_ENV) == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        # The catalog's rows end near the top: leave out the empty half of the page.
        page.screenshot(path=str(SCREENSHOT), clip={"x": 0, "y": 0, "width": 1400, "height": 460})

    link(page, "bronze / account").click()
    page.get_by_role("tab", name="Partitions", exact=True).click()
    expect(page.get_by_text(f"Materialized ({len(synced)})", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Missing ({len(batches) - len(synced)})")).to_be_visible()
    for batch in batches:
        expect(page.get_by_text(batch, exact=True).first).to_be_visible()


def test_daily_sync_for_a_new_partition_from_the_ui_turns_green(
    page: Page, project: Project
) -> None:
    key = project.today.isoformat()
    with project.instance() as instance:
        assert not instance.has_dynamic_partition(SYNC_BATCHES, key)
    open_job(page, DAILY_SYNC)
    page.get_by_role("button", name="Materialize all").click()
    page.get_by_text("Add a partition", exact=True).click()
    add = page.get_by_role("dialog").filter(has_text="Add a partition for sync_batches")
    add.get_by_role("textbox").fill(key)
    add.get_by_role("button", name="Save").click()
    page.get_by_role("button", name="Launch 1 run").click()
    toast_view(page).click()

    run_id = wait_for_run_end(page)
    with project.instance() as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags["dagster/partition"] == key
        for table in TABLES:
            assert key in materialized(instance, table), table


def test_backfill_of_two_sync_batches_from_the_ui(page: Page, project: Project) -> None:
    keys = [project.batch(2), project.batch(1)]
    with project.instance() as instance:
        assert not any(k in materialized(instance, "account") for k in keys)
    open_job(page, DAILY_SYNC)
    page.get_by_role("button", name="Materialize all").click()
    launch = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
    launch.get_by_text("Select a partition or create one").click()
    for key in keys:
        page.get_by_role("menuitem").filter(has_text=key).click()
    launch.get_by_text("Launch runs to materialize").click()  # closes the partition list
    expect(launch.get_by_text("2 partitions", exact=True)).to_be_visible()
    launch.get_by_role("button", name="Launch backfill").click()
    toast_view(page).click()

    status = page.get_by_text("Status", exact=True).locator("xpath=following-sibling::*[1]")
    expect(status).to_have_text(re.compile("Succeeded|Failed|Canceled"), timeout=RUN_TIMEOUT_MS)
    expect(status).to_have_text("Succeeded")
    backfill_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    with project.instance() as instance:
        backfill = instance.get_backfill(backfill_id)
        assert backfill is not None and backfill.status == BulkActionStatus.COMPLETED_SUCCESS
        for table in TABLES:
            assert set(keys) <= materialized(instance, table), table


def check_row(page: Page, name: str) -> Locator:
    """Return a check's entry in the Checks tab's list (its name and last result)."""
    return page.get_by_title(name, exact=True).locator("xpath=..")


def test_checks_tab_lists_every_check_with_its_last_result(page: Page, project: Project) -> None:
    key = asset_key("donation")
    specs = [s for c in project.definitions().asset_checks for s in c.check_specs]
    names = sorted(s.name for s in specs if s.asset_key == key)
    assert names
    with project.instance() as instance:
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(key, n) for n in names]
        )
    page.goto("/")
    page.get_by_role("link", name="Catalog").click()
    link(page, "bronze / donation").click()
    page.get_by_role("tab", name="Checks", exact=True).click()

    expect(page.get_by_text(f"Checks ({len(names)})", exact=True)).to_be_visible()
    for name in names:
        record = latest[dg.AssetCheckKey(key, name)]
        evaluation = record.event.asset_check_evaluation if record.event else None
        assert evaluation is not None, name
        shown = "Succeeded" if evaluation.passed else "Failed"
        expect(check_row(page, name)).to_contain_text(shown)


def test_rollback_dry_run_from_the_launchpad_shows_its_impact(page: Page, project: Project) -> None:
    checkpoint = f"bronze_batch_{project.batch(4)}"
    versions = {t: DeltaTable(str(project.folder / "bronze" / t)).version() for t in TABLES}
    open_job(page, ROLLBACK_JOB)
    page.get_by_role("tab", name="Launchpad", exact=True).click()
    editor = page.locator(".CodeMirror")
    expect(editor).to_contain_text("analyse_rollback")
    # Keep the config the Launchpad pre-filled (resources included); add the checkpoint.
    run_config = yaml.safe_load(editor.evaluate("e => e.CodeMirror.getValue()"))
    run_config["ops"][ANALYSE_OP]["config"].update(
        checkpoint_name=checkpoint, dry_run=True, requested_by="ui journey"
    )
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    # insert_text types no newline key presses: the editor does not re-indent the YAML.
    page.keyboard.insert_text(yaml.safe_dump(run_config, sort_keys=False))
    expect(page.get_by_text("No errors", exact=True)).to_be_visible()
    page.get_by_role("button", name="Launch Run").click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}"))

    run_id = wait_for_run_end(page)
    page.get_by_placeholder("Filter").fill("rollback to")
    impact = page.get_by_text(f"rollback to {checkpoint}: {len(TABLES)} table(s)")
    expect(impact).to_be_visible()
    # The source changed between the two CLI syncs: 15 donations deleted, 10 accounts renamed.
    expect(impact).to_contain_text(re.compile(r"donation: v\d+ -> v0; .*reappear 15;"))
    expect(impact).to_contain_text(re.compile(r"account: v\d+ -> v0; .*value changes 10;"))
    page.get_by_placeholder("Filter").fill("Approval token")
    expect(page.get_by_text("dry run: nothing was restored.")).to_be_visible()

    with project.instance() as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
    assert {t: DeltaTable(str(project.folder / "bronze" / t)).version() for t in TABLES} == versions


def test_failure_artifacts_are_a_screenshot_and_the_page_html(
    page: Page, project: Project, tmp_path: Path
) -> None:
    page.goto("/")
    expect(page.get_by_role("link", name="Catalog")).to_be_visible()
    save_artifacts(page, "test[artifacts probe]", tmp_path)
    assert (tmp_path / "test_artifacts_probe_.png").read_bytes()[:4] == b"\x89PNG"
    assert "Catalog" in (tmp_path / "test_artifacts_probe_.html").read_text()
