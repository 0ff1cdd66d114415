"""Plan a sync one key partition at a time, so that the diff's memory is a share of the table.

A key, its bronze row, its source key and its extracted row all hash to the same partition
(`diff.spill`), and `plan_sync` decides every key on its own, so the plans of the partitions
concatenate into exactly the plan of the whole table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import pyarrow as pa

from bronze_sync.bronze.rewrite import RowEdits
from bronze_sync.diff.key_state import KeyTally
from bronze_sync.diff.plan import PlanInput, SyncPlan, plan_sync
from bronze_sync.diff.spill import KeySpill, partition_of, take_partition


def plan_in_parts(inp: PlanInput, state_parts: KeySpill, key_parts: KeySpill | None) -> SyncPlan:
    """Return the plan of `inp` computed partition by partition from spilled state and keys.

    `inp.state.rows` and `inp.source_keys` are ignored: the spills hold them.
    """
    where = partition_of(inp.extracted, inp.key_columns, state_parts.parts)
    plans = []
    for part in range(state_parts.parts):
        part_input = replace(
            inp,
            state=replace(inp.state, rows=state_parts.part(part)),
            source_keys=key_parts.part(part) if key_parts is not None else None,
            extracted=take_partition(inp.extracted, where, part),
        )
        plans.append(plan_sync(part_input))
    return merge_plans(plans)


def merge_plans(plans: Sequence[SyncPlan]) -> SyncPlan:
    """Return one plan holding the edits, counts and samples of all `plans`."""
    counts: Counter[str] = Counter()
    for plan in plans:
        counts.update(plan.counts)
    names = {name for plan in plans for name in plan.samples}
    return SyncPlan(
        edits=RowEdits(
            upserts=_concat([p.edits.upserts for p in plans]),
            flags=_concat([p.edits.flags for p in plans]),
            inserts=_concat([p.edits.inserts for p in plans]),
        ),
        counts=dict(counts),
        samples={n: _concat([p.samples[n] for p in plans if n in p.samples]) for n in names},
        active_before=sum(p.active_before for p in plans),
        key_tally=_sum_tallies(plans),
    )


def _sum_tallies(plans: Sequence[SyncPlan]) -> KeyTally | None:
    """Return the key tally of all partitions (None unless every partition has one)."""
    tallies = [p.key_tally for p in plans]
    if not tallies or any(t is None for t in tallies):
        return None
    return sum((t for t in tallies if t is not None), KeyTally())


def _concat(tables: list[pa.Table]) -> pa.Table:
    # A partition without such rows can type a column as null; "default" unifies those.
    return pa.concat_tables(tables, promote_options="default").combine_chunks()
