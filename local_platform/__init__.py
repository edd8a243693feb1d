"""The local platform: the whole platform on one machine, with no AWS account and no network.

`python -m local_platform run | token | simulate` (see docs/local.md). Everything here is
wiring: a moto DynamoDB endpoint with the stack's table definitions, the same API handlers
behind an HTTP adapter, the same timer emitter and event handlers, the paper broker and a
simulated market. Nothing in it is a second implementation of the domain.
"""
