"""Broker accounts: linking, the daily login and logout, each account's state."""
