"""Resource classes: one per API area, each written once for the sync, async and raw clients."""
