"""The master-timer ASL file itself, executed by moto's Step Functions with the real emitter.

Waits: the simulated session is a past date (TZ=UTC), so every `TimestampPath` wait is genuinely
evaluated by moto against a timestamp already reached and returns at once; the emitter's clock
is a simulated one that the router moves to each tick (+180 ms of latency) before invoking it.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations import (
    is_operator,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import seconds

from lambda_functions.option_baskets import event_emitter
from shared_utils.clock import IST, FixedClock, to_ist, utc_iso
from shared_utils.timer.emitter import HISTORY_EVENT_BOUND, execution_name
from tests.conftest import TEST_REGION, install_platform
from tests.integration.timer.test_routing import drain, spy_queues

ASL = Path(__file__).resolve().parents[3] / "step_functions" / "master_timer.asl.json"
EMITTER_ARN = f"arn:aws:lambda:{TEST_REGION}:123456789012:function:test-event-emitter"
DAY = date(2026, 11, 18)  # a past Wednesday, a trading day; 15:40 close


def parse_rfc3339(text: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def definition() -> str:
    return ASL.read_text().replace("${EmitterFunctionArn}", EMITTER_ARN)


class Emitter:
    """The real emitter handler on a simulated clock; `fail_at` ticks raise (Lambda error)."""

    def __init__(
        self, start: datetime, fail_at: set[str] | None = None, dead_from: str | None = None
    ) -> None:
        self.clock = FixedClock(start)
        self.fail_at = fail_at or set()
        self.dead_from = dead_from
        self.calls: list[dict[str, Any]] = []
        self.outputs: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.calls.append(event)
        tick = datetime.fromisoformat(event["next_tick"].replace("Z", "+00:00"))
        self.clock.set(max(self.clock.now(), tick) + timedelta(milliseconds=180))
        if event["next_tick"] in self.fail_at and "error" not in event:
            raise RuntimeError(f"simulated failure at {event['next_tick']}")
        if self.dead_from is not None and event["next_tick"] >= self.dead_from:
            raise RuntimeError("simulated outage: the emitter fails every call")
        output: dict[str, Any] = event_emitter.handler(event, context)
        self.outputs.append(output)
        return output


@pytest.fixture
def emitter_setup(sfn_aws: dict[str, Any], lambda_router: dict[str, Any]):
    def make(start: datetime, fail_at: set[str] | None = None, dead_from: str | None = None) -> Emitter:
        emitter = Emitter(start, fail_at, dead_from)
        install_platform(sfn_aws["settings"], emitter.clock, sfn_aws["dynamodb"])
        lambda_router[EMITTER_ARN] = emitter
        return emitter

    return make


def run_machine(start: datetime, **state: Any) -> tuple[str, list[dict[str, Any]]]:
    sfn = boto3.client("stepfunctions", region_name=TEST_REGION)
    machine = sfn.create_state_machine(
        name="test-master-timer",
        definition=definition(),
        roleArn="arn:aws:iam::123456789012:role/test-master-timer",
    )["stateMachineArn"]
    sfn.start_execution(
        stateMachineArn=machine,
        name=execution_name(to_ist(start).date(), 0),
        input=json.dumps({"next_tick": utc_iso(start), "iteration": 0, "generation": 0, **state}),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        executions = sfn.list_executions(stateMachineArn=machine)["executions"]
        if all(e["status"] != "RUNNING" for e in executions):
            time.sleep(0.2)  # a successor may be starting right now
            again = sfn.list_executions(stateMachineArn=machine)["executions"]
            if len(again) == len(executions) and all(e["status"] != "RUNNING" for e in again):
                return machine, sorted(again, key=lambda e: e["startDate"])
        time.sleep(0.1)
    raise AssertionError("state machine did not finish")


def history(execution_arn: str) -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions", region_name=TEST_REGION)
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def handled_ticks(emitter: Emitter) -> list[datetime]:
    return [
        datetime.fromisoformat(out["handled_tick"].replace("Z", "+00:00"))
        for out in emitter.outputs
        if out["handled_tick"] is not None
    ]


def session_ticks(first: datetime, last: datetime) -> list[datetime]:
    count = int((last - first) / timedelta(minutes=1)) + 1
    return [first + timedelta(minutes=n) for n in range(count)]


def last_state(execution_arn: str) -> str:
    entered = [e for e in history(execution_arn) if e["type"].endswith("StateEntered")]
    return str(entered[-1]["stateEnteredEventDetails"]["name"])


def test_a_whole_session_open_to_close_in_one_execution(emitter_setup: Any) -> None:
    start = datetime.combine(DAY, datetime.min.time(), IST).replace(hour=9, microsecond=347_000)
    emitter = emitter_setup(start)
    _, executions = run_machine(start)

    assert [e["name"] for e in executions] == [execution_name(DAY, 0)]
    assert executions[0]["status"] == "SUCCEEDED"
    assert last_state(executions[0]["executionArn"]) == "SessionOver"
    ticks = handled_ticks(emitter)
    assert all(t.second == 0 and t.microsecond == 0 for t in ticks)
    first, close = (
        datetime.combine(DAY, datetime.min.time(), IST).replace(hour=9),
        datetime.combine(DAY, datetime.min.time(), IST).replace(hour=15, minute=40),
    )
    assert ticks == session_ticks(first, close)  # every minute once, in order, through the close
    assert emitter.outputs[-1]["continue"] is False
    events = history(executions[0]["executionArn"])
    assert len(events) < HISTORY_EVENT_BOUND
    per_iteration = Counter(e["type"] for e in events)["TaskScheduled"]
    assert per_iteration == len(ticks)
    assert len(events) <= 9 * len(ticks) + 10


def test_restart_hands_the_day_over_to_successor_executions(emitter_setup: Any) -> None:
    start = datetime.combine(DAY, datetime.min.time(), IST).replace(hour=9)
    emitter = emitter_setup(start)
    _, executions = run_machine(start, max_iterations=120)

    assert [e["name"] for e in executions] == [execution_name(DAY, g) for g in range(4)]
    assert all(e["status"] == "SUCCEEDED" for e in executions)
    assert [last_state(e["executionArn"]) for e in executions] == ["HandedOver"] * 3 + ["SessionOver"]
    for execution in executions:
        assert len(history(execution["executionArn"])) <= 9 * 120 + 12
    ticks = handled_ticks(emitter)
    assert ticks == session_ticks(start, start.replace(hour=15, minute=40))


def test_a_failing_emitter_skips_one_tick_and_the_loop_goes_on(emitter_setup: Any) -> None:
    start = datetime.combine(DAY, datetime.min.time(), IST).replace(hour=15, minute=20)
    failing = start.replace(minute=25)
    emitter = emitter_setup(start, fail_at={utc_iso(failing)})
    _, executions = run_machine(start)

    assert executions[0]["status"] == "SUCCEEDED"
    assert last_state(executions[0]["executionArn"]) == "SessionOver"
    failed_calls = [c for c in emitter.calls if c["next_tick"] == utc_iso(failing) and "error" not in c]
    assert len(failed_calls) == 2  # the try and its one States.TaskFailed retry
    expected = [t for t in session_ticks(start, start.replace(minute=40)) if t != failing]
    assert handled_ticks(emitter) == expected


def test_a_holiday_emits_nothing_and_ends_at_once(emitter_setup: Any) -> None:
    holiday = date(2026, 11, 24)
    start = datetime.combine(holiday, datetime.min.time(), IST).replace(hour=9, second=2)
    emitter = emitter_setup(start)
    _, executions = run_machine(start)

    assert [e["name"] for e in executions] == [execution_name(holiday, 0)]
    assert executions[0]["status"] == "SUCCEEDED"
    assert len(emitter.outputs) == 1 and emitter.outputs[0]["emitted"] == []
    assert emitter.outputs[0]["continue"] is False


def test_an_emitter_down_past_the_close_ends_the_execution_as_failed(
    emitter_setup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The 60 s pause after a failed recovery is a `Seconds` wait: make it instant.
    monkeypatch.setattr(seconds.Seconds, "_get_wait_seconds", lambda self, env: 0)
    # moto's Choice timestamp parser accepts only whole-second "...Z" strings, while its own
    # $$.State.EnteredTime has microseconds and "+00:00"; Step Functions compares RFC 3339
    # timestamps with fractions and offsets. Parse them as the service does.
    monkeypatch.setattr(
        is_operator.IsTimestamp, "string_to_timestamp", staticmethod(lambda text: parse_rfc3339(text))
    )
    start = datetime.combine(DAY, datetime.min.time(), IST).replace(hour=15, minute=35)
    emitter = emitter_setup(start, dead_from=utc_iso(start.replace(minute=37)))
    _, executions = run_machine(start)

    assert executions[0]["status"] == "FAILED"
    assert last_state(executions[0]["executionArn"]) == "EmitterUnavailable"
    # The session (a past date) closed before the pause ended: the loop gives up instead of
    # pausing and retrying until the history bound.
    assert handled_ticks(emitter) == session_ticks(start, start.replace(minute=36))


def test_the_loop_fans_out_through_the_bus_rules(emitter_setup: Any, sfn_aws: dict[str, Any]) -> None:
    queues = spy_queues(sfn_aws["settings"].event_bus_name)
    start = datetime.combine(DAY, datetime.min.time(), IST).replace(hour=15)
    emitter_setup(start)
    _, executions = run_machine(start)
    assert executions[0]["status"] == "SUCCEEDED"

    received = {detail_type: drain(url) for detail_type, url in queues.items()}
    counts = {detail_type.value: len(bodies) for detail_type, bodies in received.items()}
    # 15:00-15:40 with a 15:40 close: afternoon until 15:10, pre-close until 15:40, the close tick.
    assert counts == {
        "ScheduleStrategyTrigger": 40,  # 15:00 .. 15:39, every minute
        "CheckStopLoss": 40,  # 15:00 .. 15:39
        "CheckDuplicateOrders": 41,  # .. and the close tick
        "RefreshMarketData": 40,
    }
    for detail_type, bodies in received.items():
        ticks = [body["detail"]["tick"] for body in bodies]
        assert all(body["detail-type"] == detail_type.value for body in bodies)
        assert len(set(ticks)) == len(ticks) and all(tick.endswith(":00Z") for tick in ticks)
