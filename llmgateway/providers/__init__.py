"""Provider modules: one per vendor, translation only."""
