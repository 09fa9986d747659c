"""State: single source of truth, WAL, snapshots, journal (issue 6)."""
