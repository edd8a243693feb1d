"""Deterministic order keys and the broker tags derived from them.

The ledger key `{trade_date}#{strategy_id}#{action}#{broker_account_id}#{leg_no}#{slice}` is too
long and has characters brokers refuse, so each order carries a short hash of it instead: base-36
of SHA-256, upper case, alphanumeric only, cut to the broker's tag limit. The same key always
gives the same tag, which is what lets a retry find an order placed before a timeout.
"""

from __future__ import annotations

import hashlib
from datetime import date

from shared_utils.brokers.models import BrokerName

# Longest tag each broker accepts (characters). Angel One announced 20 from 2024-11-15 after
# enforcing 15; 15 works under both rules and still carries 77 bits of hash.
TAG_LENGTH: dict[BrokerName, int] = {
    BrokerName.ZERODHA: 20,  # `tag`, alphanumeric, max 20
    BrokerName.ANGEL_ONE: 15,  # `ordertag`
    BrokerName.FINVASIA: 20,  # `remarks` (free text; kept alphanumeric)
    BrokerName.UPSTOX: 20,  # `tag`
    BrokerName.DHAN: 20,  # `correlationId` (max 25 documented)
    BrokerName.FYERS: 20,  # `orderTag`
    BrokerName.PAPER: 20,
}

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def order_key(
    trade_date: date, strategy_id: str, action: str, broker_account_id: str, leg_no: int, slice_no: int
) -> str:
    """The ledger key of one order slice. Parts must not contain `#`."""
    parts = [trade_date.isoformat(), strategy_id, action, broker_account_id, str(leg_no), str(slice_no)]
    if any(not part or "#" in part for part in parts):
        raise ValueError("order key parts must be non-empty and free of '#'")
    if leg_no < 0 or slice_no < 0:
        raise ValueError("leg and slice numbers are non-negative")
    return "#".join(parts)


def run_of(key: str) -> str:
    """The run (ENTRY, EXIT, LEGSL2 ...) an order key belongs to."""
    return key.split("#")[2]


def _base36(digest: bytes) -> str:
    number = int.from_bytes(digest, "big")
    chars: list[str] = []
    while number:
        number, remainder = divmod(number, 36)
        chars.append(_ALPHABET[remainder])
    return "".join(reversed(chars)).rjust(50, "0")


def broker_tag(key: str, broker: BrokerName) -> str:
    """Stable alphanumeric tag for `key`, at most `TAG_LENGTH[broker]` characters."""
    if not key:
        raise ValueError("empty order key")
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    # The leading base-36 digit of a 256-bit number is biased; use the tail.
    return _base36(digest)[-TAG_LENGTH[broker] :]
