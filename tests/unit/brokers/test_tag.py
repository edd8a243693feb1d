from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_utils.brokers.models import BrokerName
from shared_utils.brokers.tag import TAG_LENGTH, broker_tag, order_key

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=40)
keys = st.builds(
    order_key,
    st.dates(min_value=date(2024, 1, 1), max_value=date(2035, 12, 31)),
    ids,
    st.sampled_from(["ENTRY", "EXIT", "KILL"]),
    ids,
    st.integers(min_value=0, max_value=5),
    st.integers(min_value=0, max_value=50),
)


def test_order_key_layout() -> None:
    assert order_key(date(2026, 11, 24), "s1", "ENTRY", "a1", 2, 0) == "2026-11-24#s1#ENTRY#a1#2#0"


@pytest.mark.parametrize("bad", ["", "a#b"])
def test_order_key_refuses_separator_or_empty_parts(bad: str) -> None:
    with pytest.raises(ValueError):
        order_key(date(2026, 11, 24), bad, "ENTRY", "a1", 1, 0)


@given(keys, st.sampled_from(list(BrokerName)))
def test_tag_is_stable_alphanumeric_and_within_the_broker_limit(key: str, broker: BrokerName) -> None:
    tag = broker_tag(key, broker)
    assert tag == broker_tag(key, broker)
    assert re.fullmatch(r"[0-9A-Z]+", tag)
    assert len(tag) == TAG_LENGTH[broker] <= 20


@given(keys, keys, st.sampled_from(list(BrokerName)))
def test_different_keys_give_different_tags(first: str, second: str, broker: BrokerName) -> None:
    if first != second:
        assert broker_tag(first, broker) != broker_tag(second, broker)


def test_tags_of_a_realistic_day_do_not_collide() -> None:
    tags = {
        broker_tag(order_key(date(2026, 11, 24), f"s{s}", action, f"acct{a}", leg, sl), BrokerName.ANGEL_ONE)
        for s in range(200)
        for action in ("ENTRY", "EXIT")
        for a in range(3)
        for leg in range(1, 5)
        for sl in range(2)
    }
    assert len(tags) == 200 * 2 * 3 * 4 * 2


def test_zerodha_tag_is_twenty_characters() -> None:
    assert len(broker_tag("2026-11-24#s1#ENTRY#a1#1#0", BrokerName.ZERODHA)) == 20
