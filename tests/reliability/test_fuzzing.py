"""Fuzzing beyond the contract run: hypothesis on the domain models at every boundary (arbitrary
JSON is either refused with a validation error or becomes a model that round-trips), on mutated
request bodies through the real handler (never a 5xx, always the error model), and on timer
events (a malformed one is rejected, never raises).

schemathesis over every operation of docs/openapi.json, checking zero 5xx and zero schema
violations, is tests/integration/api/test_contract.py (two passes: generated and real ids)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shared_utils.events.catalog import DetailType
from shared_utils.marketplace.models import ListingPublish, SubscriptionCreate
from shared_utils.models.allocation import AllocationCreate, AllocationUpdate
from shared_utils.models.basket import BasketCreate, BasketUpdate
from shared_utils.models.strategy import StrategyCreate, StrategyUpdate
from shared_utils.timer.consumer import HandlerOutcome, accept
from tests.events.timer import load_event
from tests.integration.api.conftest import strategy_body

MODELS: list[type[BaseModel]] = [
    StrategyCreate,
    StrategyUpdate,
    BasketCreate,
    BasketUpdate,
    AllocationCreate,
    AllocationUpdate,
    ListingPublish,
    SubscriptionCreate,
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["NIFTY", "CE", "PE", "SELL", "BUY", "09:20", "ATM_OFFSET", "CURRENT_WEEKLY", ""])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def mutate(body: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    """`body` with the value at `path` (keys into dicts, indexes into lists) replaced or removed."""
    mutated = copy.deepcopy(body)
    node: Any = mutated
    for step in path[:-1]:
        node = node[step]
    last = path[-1]
    if value is _REMOVE and isinstance(node, dict):
        node.pop(last, None)
    elif value is not _REMOVE:
        node[last] = value
    return mutated


_REMOVE = object()


def paths(value: Any, prefix: list[str | int] | None = None) -> list[list[str | int]]:
    prefix = prefix or []
    found: list[list[str | int]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        found.append([*prefix, key])
        found += paths(child, [*prefix, key])
    return found


VALID = strategy_body()
MUTATION_PATHS = paths(VALID)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
@FUZZ
@given(data=json_values)
def test_models_refuse_or_accept_and_round_trip(model: type[BaseModel], data: Any) -> None:
    try:
        parsed = model.model_validate(data)
    except ValidationError:
        return
    assert model.model_validate(parsed.model_dump(mode="json")) == parsed


@FUZZ
@given(path=st.sampled_from(MUTATION_PATHS), value=st.one_of(st.just(_REMOVE), json_values))
def test_mutated_strategy_bodies_are_created_or_refused_never_a_5xx(api, path, value) -> None:
    body = mutate(VALID, path, value)
    basket = api("POST", "/options/baskets", body={"name": "Fuzz"}).body["basket_id"]

    response = api("POST", "/options/baskets/{basket_id}/strategies", basket_id=basket, body=body)

    assert response.status in {201, 400, 409, 422}, (response.status, response.raw_body)
    if response.status != 201:
        assert set(response.body) == {"code", "message", "details"}
        assert "Traceback" not in response.raw_body
    else:  # accepted: what is stored is what a GET returns
        stored = api("GET", "/options/strategies/{strategy_id}", strategy_id=response.body["strategy_id"])
        assert stored.body["strategy"]["legs"] == response.body["legs"]


@FUZZ
@given(path=st.sampled_from(paths(load_event("schedule_strategy_trigger"))), value=json_values)
def test_malformed_timer_events_are_rejected_never_raised(path, value) -> None:
    event = mutate(load_event("schedule_strategy_trigger"), path, value)
    outcome = accept(event, DetailType.SCHEDULE_STRATEGY_TRIGGER)
    if isinstance(outcome, HandlerOutcome):
        assert outcome.status == "rejected" and outcome.reason
    else:
        assert outcome.detail.window_start < outcome.detail.window_end
