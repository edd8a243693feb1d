"""Brokers: the `Broker` port, the paper broker, SDK adapters and their guards.

Importing this package imports no broker SDK; adapters import theirs when built.
"""
