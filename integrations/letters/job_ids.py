"""Render jobs in chunks, and job ids that name their letters: shared by the outbox (dispatch.py), the jobs and the
sweeper (jobs.py). No imports of ours, so neither needs the other for these.

A chunk's job id names its letters (`render_job_id`): the same letters give the same id, so a chunk is never
queued twice, and the sweeper can tell from the ids in Redis which letters still have a job waiting.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

#: Letters per render job. Past ~25 the per-job costs are noise (<0.1 ms a letter) while a job killed mid-chunk
#: leaves more letters to the sweeper and a chunk's letters wait for each other's record (25 x ~12 ms = 0.3 s).
CHUNK = 25

_ONE = "render-letter-"
_MANY = "render-letters-"
_RANGES = re.compile(r"^(\d+)(?:-(\d+))?$")


def chunks(letter_ids: Sequence[int], size: int = CHUNK) -> Iterator[list[int]]:
    """The ids, sorted, in runs of `size`: neighbouring letters (one commit's, one case's) share a job."""
    ordered = sorted(set(letter_ids))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def render_job_id(letter_ids: Sequence[int]) -> str:
    """`render-letter-7` for one letter; `render-letters-7-9_12` (runs of consecutive ids) for several. The id
    names exactly its letters: unique per chunk, and readable back by `letters_of_job`."""
    ids = sorted(set(letter_ids))
    if len(ids) == 1:
        return f"{_ONE}{ids[0]}"
    runs: list[str] = []
    start = prev = ids[0]
    for letter_id in [*ids[1:], None]:
        if letter_id is not None and letter_id == prev + 1:
            prev = letter_id
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if letter_id is not None:
            start = prev = letter_id
    return _MANY + "_".join(runs)


def letters_of_job(job_id: str) -> list[int]:
    """The letter ids a render job's id names ([] for any other job)."""
    if job_id.startswith(_ONE) and job_id[len(_ONE) :].isdigit():
        return [int(job_id[len(_ONE) :])]
    if not job_id.startswith(_MANY):
        return []
    ids: list[int] = []
    for run in job_id[len(_MANY) :].split("_"):
        match = _RANGES.match(run)
        if match is None:
            return []
        first = int(match[1])
        ids.extend(range(first, int(match[2] or first) + 1))
    return ids
