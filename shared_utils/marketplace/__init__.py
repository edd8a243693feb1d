"""Admin marketplace: publish baskets, browse, subscribe with your own broker allocations."""
