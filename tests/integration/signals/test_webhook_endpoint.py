"""TradingView- and Chartink-shaped requests through the public handler into the execution path:
an entry and an exit on the paper broker, and every refusal a sender can meet (a replay, a bad
token, a paused strategy, a burst over the limit, a malformed body, a wrong secret, outside the
session), each recorded for the owner to read."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest

from shared_utils.errors import RunsNotQueuedError
from shared_utils.models.common import StrategyStatus
from shared_utils.models.strategy import StrategyUpdate
from shared_utils.signals.receiver import RECORDED_OVER_LIMIT
from shared_utils.signals.tokens import new_token
from tests.conftest import TEST_REGION
from tests.events import load_event
from tests.integration.execution.conftest import condor_body, net_quantities
from tests.integration.signals.conftest import JSON, post_signal, token_of

TV_ALERT = load_event("signals/tradingview_strategy_alert.json")
CHARTINK_ALERT = load_event("signals/chartink_alert.json")
NOT_FOUND = {"code": "NOT_FOUND", "message": "No such resource", "details": []}


@pytest.fixture
def condor(platform):
    """user-a's NIFTY iron condor, 1 lot on the paper account acct-1."""
    return platform.strategy("user-a", condor_body(), {"acct-1": 1})


def holding(platform, sid: str) -> dict[int, int]:
    return {p.leg_no: p.net_quantity for p in platform.store.positions("user-a", sid) if p.net_quantity}


def signal_items(aws) -> list[dict]:
    """Every signal record in the configurations table, whoever's webhook."""
    table = boto3.resource("dynamodb", region_name=TEST_REGION).Table(aws["settings"].trading_table_name)
    return [item for item in table.scan()["Items"] if item.get("entity") == "WEBHOOK_SIGNAL"]


def test_a_tradingview_entry_and_a_chartink_exit_trade_on_the_paper_broker(
    platform, runs, condor, create_webhook, signals_of
):
    entry = create_webhook(
        condor, "ENTER", "TRADINGVIEW", label="NIFTY breakout", shared_secret="nifty-condor-2026",
        secret_field="passphrase", signal_id_field="id", match={"action": "BUY"},
    )  # fmt: skip
    exit_ = create_webhook(condor, "EXIT", "CHARTINK", signal_id_field="triggered_at")

    entered = post_signal(token_of(entry["url_path"]), TV_ALERT)

    assert entered.status == 202, entered.body
    assert entered.body["status"] == "QUEUED" and entered.body["run_name"] == "SIG1"
    assert [(run.run_name, run.signal) for run in runs.sent] == [("SIG1", "ENTER")]
    assert all(outcome.startswith("SIG1") for outcome in platform.drain())
    assert holding(platform, condor) == {1: -65, 2: 65, 3: -65, 4: 65}

    platform.clock.advance(timedelta(minutes=20))
    exited = post_signal(token_of(exit_["url_path"]), CHARTINK_ALERT)

    assert exited.status == 202, exited.body
    assert exited.body["run_name"] == "SIG2"
    platform.drain()
    assert holding(platform, condor) == {}
    assert net_quantities(platform.brokers.by_account["acct-1"]) == {}
    (recorded,) = signals_of(entry["webhook_id"])
    assert (recorded["status"], recorded["code"], recorded["http_status"]) == ("QUEUED", "QUEUED", 202)
    assert recorded["run_name"] == "SIG1" and recorded["signal_key"] == "id:Long Entry-2026-11-25T04:00:02Z"
    assert recorded["summary"]["ticker"] == "NIFTY" and recorded["summary"]["action"] == "buy"
    assert recorded["source_ip"] == "52.89.214.238"
    assert "nifty-condor-2026" not in json.dumps(recorded)
    (chartink,) = signals_of(exit_["webhook_id"])
    assert chartink["summary"]["scan_name"] == "Index reversal" and chartink["signal_key"] == "id:9:50 am"


def test_a_replayed_signal_is_ignored_and_queues_nothing(platform, runs, condor, create_webhook, signals_of):
    webhook = create_webhook(condor)
    token = token_of(webhook["url_path"])

    first = post_signal(token, TV_ALERT)
    platform.clock.advance(timedelta(seconds=30))
    again = post_signal(token, TV_ALERT)

    assert first.status == 202
    assert again.status == 200, again.body
    assert again.body["status"] == "REPLAYED" and "run_name" not in again.body
    assert len(runs.sent) == 1
    replayed, queued = signals_of(webhook["webhook_id"])  # newest first
    assert (replayed["status"], queued["status"]) == ("REPLAYED", "QUEUED")
    assert replayed["signal_key"] == queued["signal_key"] and replayed["signal_key"].startswith("sha256:")


def test_the_same_signal_after_the_replay_window_acts_again(platform, runs, condor, create_webhook):
    token = token_of(create_webhook(condor, signal_id_field="order_id")["url_path"])
    assert post_signal(token, TV_ALERT).status == 202

    platform.clock.advance(timedelta(minutes=10, seconds=1))

    assert post_signal(token, TV_ALERT).body["status"] == "QUEUED"
    assert [run.run_name for run in runs.sent] == ["SIG1", "SIG2"]


def test_a_bad_token_is_a_404_that_says_nothing_and_records_nothing(aws, runs, condor, create_webhook):
    webhook = create_webhook(condor)
    real = token_of(webhook["url_path"])
    unknown = new_token()

    answers = [
        post_signal(unknown, TV_ALERT),
        post_signal(real[:-1], TV_ALERT),
        post_signal("../options/baskets", TV_ALERT),
        post_signal(real.swapcase(), TV_ALERT),
    ]

    for answer in answers:
        assert (answer.status, answer.body) == (404, NOT_FOUND)
    assert not runs.sent and signal_items(aws) == []


def test_a_signal_for_a_paused_strategy_is_refused_and_recorded(
    platform, runs, condor, create_webhook, signals_of
):
    webhook = create_webhook(condor)
    platform.repository.update_strategy(
        "user-a", condor, StrategyUpdate(version=1, status=StrategyStatus.PAUSED)
    )

    refused = post_signal(token_of(webhook["url_path"]), TV_ALERT)

    assert refused.status == 409, refused.body
    assert (refused.body["status"], refused.body["code"]) == ("REFUSED", "REFUSED")
    assert refused.body["message"] == "the strategy is paused"
    assert not runs.sent
    (recorded,) = signals_of(webhook["webhook_id"])
    assert (recorded["status"], recorded["reason"], recorded["http_status"]) == (
        "REFUSED",
        "the strategy is paused",
        409,
    )


def test_a_signal_outside_the_session_is_refused_with_the_session_hours(
    platform, runs, condor, create_webhook
):
    token = token_of(create_webhook(condor)["url_path"])
    platform.clock.advance(timedelta(hours=6, minutes=30))  # 16:00 IST

    refused = post_signal(token, TV_ALERT)

    assert refused.status == 409
    assert refused.body["message"].startswith("outside NSE's session 09:15-")  # the calendar's close
    assert not runs.sent


def test_a_burst_over_the_rate_limit_is_429_after_the_limit_until_the_next_minute(
    platform, runs, condor, create_webhook, signals_of
):
    webhook = create_webhook(condor, "EXIT", rate_limit_per_minute=3)
    token = token_of(webhook["url_path"])

    answers = []
    for n in range(5):  # a second apart, within the minute
        answers.append(post_signal(token, {**TV_ALERT, "id": f"burst-{n}"}))
        platform.clock.advance(timedelta(seconds=1))

    assert [answer.status for answer in answers] == [202, 202, 202, 429, 429]
    limited = answers[3]
    assert (limited.body["status"], limited.body["code"]) == ("RATE_LIMITED", "RATE_LIMITED")
    assert limited.headers["Retry-After"] == "57"  # sent at :03, the count starts again at :00
    assert len(runs.sent) == 3
    assert [item["status"] for item in signals_of(webhook["webhook_id"])] == [
        "RATE_LIMITED",
        "RATE_LIMITED",
        "QUEUED",
        "QUEUED",
        "QUEUED",
    ]
    platform.clock.advance(timedelta(minutes=1))
    assert post_signal(token, {**TV_ALERT, "id": "next-minute"}).status == 202


def test_a_flood_on_a_leaked_url_fills_the_list_with_at_most_20_refusals_a_minute(
    runs, condor, create_webhook, signals_of
):
    webhook = create_webhook(condor, "EXIT", rate_limit_per_minute=1)
    token = token_of(webhook["url_path"])

    statuses = [post_signal(token, {"id": n}).status for n in range(1 + RECORDED_OVER_LIMIT + 5)]

    assert statuses == [202] + [429] * (RECORDED_OVER_LIMIT + 5)
    listed = [item["status"] for item in signals_of(webhook["webhook_id"])]
    assert sorted(listed) == ["QUEUED"] + ["RATE_LIMITED"] * RECORDED_OVER_LIMIT


@pytest.mark.parametrize(
    ("format", "body", "content_type", "code", "field"),
    [
        ("TRADINGVIEW", "NIFTY crossed 26000: go long", "text/plain", "MALFORMED_BODY", "body"),
        ("TRADINGVIEW", "", JSON, "MALFORMED_BODY", "body"),
        ("TRADINGVIEW", "[1, 2, 3]", JSON, "MALFORMED_BODY", "body"),
        ("CHARTINK", json.dumps({k: v for k, v in CHARTINK_ALERT.items() if k != "stocks"}), JSON,
         "FIELD_MISSING", "stocks"),
    ],
)  # fmt: skip
def test_a_malformed_body_is_a_400_with_a_stable_code_and_recorded(
    runs, condor, create_webhook, signals_of, format, body, content_type, code, field
):
    webhook = create_webhook(condor, "ENTER", format)

    answer = post_signal(token_of(webhook["url_path"]), body, content_type)

    assert answer.status == 400, answer.body
    assert (answer.body["code"], answer.body["field"], answer.body["status"]) == (code, field, "REFUSED")
    assert not runs.sent
    (recorded,) = signals_of(webhook["webhook_id"])
    assert (recorded["code"], recorded["http_status"]) == (code, 400)


def test_a_mapped_field_absent_is_a_400_naming_it(runs, condor, create_webhook):
    token = token_of(create_webhook(condor, signal_id_field="strategy.order.id")["url_path"])

    answer = post_signal(token, TV_ALERT)

    assert answer.status == 400
    assert (answer.body["code"], answer.body["field"]) == ("FIELD_MISSING", "strategy.order.id")


def test_a_wrong_or_missing_secret_looks_like_an_unknown_url_and_is_recorded(
    platform, runs, condor, create_webhook, signals_of
):
    webhook = create_webhook(condor, shared_secret="nifty-condor-2026", secret_field="passphrase")
    token = token_of(webhook["url_path"])

    wrong = post_signal(token, {**TV_ALERT, "passphrase": "guess-1234"})
    platform.clock.advance(timedelta(seconds=1))
    missing = post_signal(token, {k: v for k, v in TV_ALERT.items() if k != "passphrase"})

    assert (wrong.status, wrong.body) == (404, NOT_FOUND)
    assert (missing.status, missing.body) == (404, NOT_FOUND)
    assert not runs.sent
    assert [(item["code"], item["http_status"]) for item in signals_of(webhook["webhook_id"])] == [
        ("WRONG_SECRET", 404),
        ("WRONG_SECRET", 404),
    ]
    assert "guess-1234" not in json.dumps(signals_of(webhook["webhook_id"]))
    assert post_signal(token, TV_ALERT).status == 202  # the right one, after the wrong ones


def test_a_value_other_than_the_matched_one_is_refused(runs, condor, create_webhook):
    token = token_of(create_webhook(condor, match={"action": "buy", "ticker": "NIFTY"})["url_path"])

    refused = post_signal(token, {**TV_ALERT, "action": "sell"})

    assert refused.status == 409
    assert refused.body["code"] == "NOT_MATCHED" and "action is 'sell', not 'buy'" in refused.body["message"]
    assert not runs.sent


def test_a_base64_body_is_read_as_sent(runs, condor, create_webhook):
    from shared_utils.api.catalog import SIGNAL_WEBHOOK
    from tests.integration.api.conftest import invoke
    from tests.integration.signals.conftest import signal_event

    token = token_of(create_webhook(condor)["url_path"])

    answer = invoke(SIGNAL_WEBHOOK, signal_event(token, json.dumps(TV_ALERT), as_base64=True))

    assert answer.status == 202 and len(runs.sent) == 1


class RefusingQueue:
    def send(self, runs, *, delay_s=0):
        raise RunsNotQueuedError(len(runs), "ServiceUnavailable")


def test_a_signal_the_queue_refused_is_a_503_and_can_be_sent_again(aws, runs, condor, create_webhook):
    token = token_of(create_webhook(condor)["url_path"])
    aws["platform"].__dict__["run_queue"] = RefusingQueue()

    refused = post_signal(token, TV_ALERT)

    assert refused.status == 503 and refused.body["code"] == "NOT_QUEUED"
    assert refused.headers["Retry-After"] == "1"
    aws["platform"].__dict__["run_queue"] = runs
    retried = post_signal(token, TV_ALERT)
    assert retried.status == 202, retried.body  # not a replay: the failed one released its mark
