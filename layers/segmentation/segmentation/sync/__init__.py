"""Getting membership changes out: sync tasks, the membership-changed event, channel adapters."""
