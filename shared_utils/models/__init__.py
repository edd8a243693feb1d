"""Domain, API input/output and stored-item models of baskets, strategies and allocations: import
each from its module (this package builds nothing on import)."""
