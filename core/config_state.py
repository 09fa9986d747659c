"""Settings section of the state layer: where the WAL, snapshots and journal live, and how often to snapshot.

Composed into :class:`core.config.Settings` as ``state``. The default directory is ``var/state`` (relative
to the working directory), not ``state/``: the repository has a Python package called ``state``, and
runtime files must never land inside the source tree.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

__all__ = ["StateSettings"]


class StateSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Crash safety: the state directory (WAL, snapshots, journal) and the snapshot cadence."""

    dir: Annotated[
        str, Meta(min_length=1, description="state directory: WAL, snapshots, journal (one session each)")
    ] = "var/state"
    snapshot_interval_s: Annotated[
        float, Meta(gt=0, le=3600, description="seconds between state snapshots")
    ] = 5.0
    snapshots_kept: Annotated[int, Meta(ge=1, le=1000, description="newest snapshots kept on disk")] = 10
