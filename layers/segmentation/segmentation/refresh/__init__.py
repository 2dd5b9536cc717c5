"""Keeping segments fresh without rescanning everyone: exact-time boundaries, scheduled and on-demand full refreshes
fanned out over parallel-scan shards, and impact previews (dry runs)."""
