"""The catalog service: baskets, strategies and broker allocations as users change them."""
