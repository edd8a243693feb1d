"""Backtests as jobs: the API answers 202 with a QUEUED job and hands it to the job function;
the function runs it to DONE (result and report in the bucket, the summary on the job) or
FAILED; the limits are refused before anything is stored; a job is its owner's alone.

The platform's clock is fixed after the range (Friday 2026-11-27, 11:30 IST) and never the
machine's; the range is Monday 23 to Wednesday 25 November 2026 (the 24th is a holiday)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest

from lambda_functions.option_baskets import BACKTEST_RUNNER, load_handler
from local_platform.api_server import InvocationLock, LocalApi, TokenAuthorizer
from local_platform.backtest_jobs import FileResultStore, ThreadJobStarter
from local_platform.identity import LocalUser, issue_token, new_secret
from local_platform.root import one_process_root
from shared_utils import keys
from shared_utils.backtest.job_models import (
    JOB_TIMEOUT,
    RETENTION,
    START_WITHIN,
    BacktestJob,
    JobRef,
    JobSpec,
    JobStatus,
)
from shared_utils.backtest.job_store import DynamoJobStore
from shared_utils.backtest.runner import MarketSource
from shared_utils.clock import FixedClock
from shared_utils.composition import Platform, install, installed
from shared_utils.errors import LimitExceededError
from shared_utils.settings import RuntimeSettings
from tests.conftest import TEST_REGION
from tests.integration.api.conftest import Call, FakeLambdaContext, World

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
RANGE = {"start": "2026-11-23", "end": "2026-11-25"}
BUCKET = "ql-algo-trading-test-backtest-results"
RUNNER = "ql-algo-trading-test-backtest-runner"
BACKTESTS = "/options/backtests"
BACKTEST = "/options/backtests/{backtest_id}"


class JobFunction:
    """The job function's side of the API's asynchronous invocations: the events the API sent
    (exactly what `LambdaJobStarter` sends), run when the test says so."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def start(self, job: JobRef) -> None:
        self.events.append(json.loads(job.model_dump_json()))

    def run(self, event: dict[str, Any]) -> dict[str, Any]:
        return load_handler(BACKTEST_RUNNER)(event, FakeLambdaContext())


@pytest.fixture
def platform_clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def test_settings(test_settings: RuntimeSettings) -> RuntimeSettings:
    return test_settings.model_copy(
        update={"backtest_results_bucket": BUCKET, "backtest_runner_function": RUNNER}
    )


def _install(aws: dict[str, Any], **ports: Any) -> Platform:
    """The test's composition root again, with the given backtest ports."""
    root = one_process_root(
        aws["settings"], aws["clock"], wait_for_runs=True, dynamodb=aws["dynamodb"], **ports
    )
    previous = installed()
    install(root)
    if previous is not None:
        previous.close()
    return root


@pytest.fixture
def job_function(aws: dict[str, Any]) -> JobFunction:
    function = JobFunction()
    _install(aws, backtest_starter=function)
    return function


@pytest.fixture
def bucket(aws: dict[str, Any]) -> Any:
    s3 = boto3.client("s3", region_name=TEST_REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": TEST_REGION})
    return s3


@pytest.fixture
def alice(build_world: Callable[[str], World], job_function: JobFunction) -> World:
    return build_world("alice")


def submit(api: Call, world: World, **body: Any) -> Any:
    return api(
        "POST", BACKTESTS, user=world.user, body={"strategy_ids": [world.strategy_id], **RANGE, **body}
    )


def stored_jobs(aws: dict[str, Any]) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb").Table(aws["settings"].backtest_jobs_table_name)
    return [dict(item) for item in table.scan()["Items"] if str(item["sk"]).startswith("JOB#")]


def test_a_backtest_is_accepted_at_once_queued_and_handed_to_the_job_function(
    api: Call, aws: dict[str, Any], alice: World, job_function: JobFunction
) -> None:
    response = submit(api, alice, slippage_bps=7.5, seed=42)

    assert response.status == 202, response.body
    job = response.body
    assert job["status"] == "QUEUED"
    assert job["request"] == {
        "strategy_ids": [alice.strategy_id],
        "basket_id": None,
        "start": "2026-11-23",
        "end": "2026-11-25",
        "market": "SIMULATED",
        "seed": 42,
        "slippage_bps": 7.5,
        "brokerage_per_order": 20.0,
    }
    assert job["created_at"].startswith("2026-11-27T06:00:00")
    assert job["result_url"] is None and job["summary"] is None
    assert job_function.events == [{"user_id": "alice", "backtest_id": job["backtest_id"]}]
    (item,) = stored_jobs(aws)
    assert (item["user_id"], item["backtest_id"], item["status"]) == ("alice", job["backtest_id"], "QUEUED")
    assert str(item["created_at"]).startswith("2026-11-27T06:00:00") and "finished_at" not in item
    read = api("GET", BACKTEST, backtest_id=job["backtest_id"], user="alice")
    assert read.status == 200 and read.body == job


def test_a_basket_runs_all_its_strategies(api: Call, alice: World) -> None:
    response = api("POST", BACKTESTS, user="alice", body={"basket_id": alice.basket_id, **RANGE})

    assert response.status == 202, response.body
    assert response.body["request"]["strategy_ids"] == [alice.strategy_id]
    assert response.body["request"]["basket_id"] == alice.basket_id


def test_the_job_writes_its_result_and_report_and_is_done_with_a_summary(
    api: Call, aws: dict[str, Any], alice: World, job_function: JobFunction, bucket: Any
) -> None:
    backtest_id = submit(api, alice).body["backtest_id"]

    outcome = job_function.run(job_function.events[0])

    assert outcome == {"backtest_id": backtest_id, "ran": True, "status": "DONE", "error": None}
    prefix = f"backtests/alice/{backtest_id}/"
    result = bucket.get_object(Bucket=BUCKET, Key=prefix + "result.json")
    report = bucket.get_object(Bucket=BUCKET, Key=prefix + "report.html")
    assert result["ContentType"] == "application/json"
    assert report["ContentType"].startswith("text/html")
    assert json.loads(result["Body"].read())["summary"]["trading_days"] == 2
    assert b"<html" in report["Body"].read().lower()
    job = api("GET", BACKTEST, backtest_id=backtest_id, user="alice").body
    assert job["status"] == "DONE" and job["error"] is None
    assert job["started_at"].startswith("2026-11-27T06:00:00")
    assert job["finished_at"].startswith("2026-11-27T06:00:00")
    summary = job["summary"]
    assert (summary["start"], summary["end"], summary["trading_days"]) == ("2026-11-23", "2026-11-25", 2)
    assert summary["days_traded"] >= 1
    assert summary["net_pnl"] == pytest.approx(summary["gross_pnl"] - summary["charges"], abs=0.011)
    assert set(summary["pnl_by_strategy"]) == {alice.strategy_id}
    for link, name in ((job["result_url"], "result.json"), (job["report_url"], "report.html")):
        url = urlparse(link)
        assert url.path.endswith(prefix + name) and BUCKET in url.netloc + url.path
        assert parse_qs(url.query)["X-Amz-Expires"] == ["900"]


def test_a_redelivered_event_does_nothing(
    api: Call, aws: dict[str, Any], alice: World, job_function: JobFunction, bucket: Any
) -> None:
    done_id = submit(api, alice).body["backtest_id"]
    job_function.run(job_function.events[0])
    done = api("GET", BACKTEST, backtest_id=done_id, user="alice").body
    running_id = submit(api, alice).body["backtest_id"]
    store = DynamoJobStore(aws["dynamodb"], aws["settings"].backtest_jobs_table_name)
    assert store.start("alice", running_id, NOW, NOW + JOB_TIMEOUT) is not None  # another invocation has it

    for event in job_function.events:
        assert job_function.run(event) == {
            "backtest_id": event["backtest_id"],
            "ran": False,
            "status": None,
            "error": None,
        }

    # The same job (its links are signed again on each read: compare where they point).
    again = api("GET", BACKTEST, backtest_id=done_id, user="alice").body
    for job in (again, done):
        job["result_url"], job["report_url"] = (
            urlparse(job[key]).path for key in ("result_url", "report_url")
        )
    assert again == done
    assert api("GET", BACKTEST, backtest_id=running_id, user="alice").body["status"] == "RUNNING"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        pytest.param({"start": "2025-11-24"}, "RANGE_TOO_LONG", "end", id="367 days"),
        pytest.param({"end": "2026-11-28"}, "END_IN_FUTURE", "end", id="end after today"),
        pytest.param({"market": "HISTORICAL"}, "MARKET_NOT_AVAILABLE", "market", id="historical"),
        pytest.param(
            {"strategy_ids": [f"s-{n}" for n in range(11)]}, "TOO_MANY_STRATEGIES", "strategy_ids", id="11"
        ),
        pytest.param({"start": "2026-11-25", "end": "2026-11-23"}, "VALIDATION_ERROR", "end", id="reversed"),
        pytest.param({"basket_id": "b-1"}, "VALIDATION_ERROR", "strategy_ids", id="both kinds"),
        pytest.param({"slippage_bps": 501}, "VALIDATION_ERROR", "slippage_bps", id="slippage"),
    ],
)
def test_a_request_past_a_limit_is_refused_naming_the_field_and_nothing_is_stored(
    api: Call,
    aws: dict[str, Any],
    alice: World,
    job_function: JobFunction,
    body: dict[str, Any],
    code: str,
    field: str,
) -> None:
    response = submit(api, alice, **body)

    assert response.status == 422, response.body
    assert response.body["code"] == code
    assert [detail["field"] for detail in response.body["details"]] == [field]
    assert stored_jobs(aws) == [] and job_function.events == []


def test_a_full_year_is_within_the_limit(api: Call, alice: World) -> None:
    response = submit(api, alice, start="2025-11-25", end="2026-11-25")  # 366 days, a leap day-free year

    assert response.status == 202, response.body


def test_unknown_strategies_and_baskets_are_404_by_the_field(api: Call, alice: World) -> None:
    strategies = submit(api, alice, strategy_ids=[alice.strategy_id, "no-such-strategy"])
    basket = api("POST", BACKTESTS, user="alice", body={"basket_id": "no-such-basket", **RANGE})

    assert strategies.status == 404 and strategies.body["code"] == "NOT_FOUND"
    assert strategies.body["details"] == [{"field": "strategy_ids.1", "issue": "not found"}]
    assert basket.status == 404 and basket.body["details"][0]["field"] == "basket_id"


def test_at_most_two_jobs_run_at_once_and_a_finished_one_gives_its_place_back(
    api: Call, aws: dict[str, Any], alice: World, job_function: JobFunction, bucket: Any
) -> None:
    first, second = (submit(api, alice).body["backtest_id"] for _ in range(2))

    third = submit(api, alice)

    assert third.status == 409, third.body
    assert third.body["code"] == "BACKTESTS_RUNNING"
    assert third.body["details"] == [{"field": "running", "issue": ", ".join(sorted([first, second]))}]
    assert len(stored_jobs(aws)) == 2
    job_function.run(job_function.events[0])
    assert submit(api, alice).status == 202


class InterleavedStore(DynamoJobStore):
    """Another request adds its job after this one read the user's running jobs, before it
    writes: the deterministic interleaving of two requests at once."""

    def __init__(self, client: Any, table: str, meanwhile: Callable[[], None]) -> None:
        super().__init__(client, table)
        self._meanwhile: Callable[[], None] | None = meanwhile

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        raw = super()._get(pk, sk)
        if sk == keys.BACKTEST_RUNNING_SK and self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            meanwhile()
        return raw


def test_two_requests_at_once_cannot_both_take_the_last_place(aws: dict[str, Any]) -> None:
    table = aws["settings"].backtest_jobs_table_name
    spec = JobSpec(
        strategy_ids=["s-1"],
        start=NOW.date(),
        end=NOW.date(),
        market=MarketSource.SIMULATED,
        slippage_bps=Decimal("5"),
        brokerage_per_order=Decimal("20"),
    )
    first, second = (
        BacktestJob(
            backtest_id=f"bt-{n}",
            user_id="alice",
            status=JobStatus.QUEUED,
            request=spec,
            created_at=NOW,
            deadline=NOW + START_WITHIN,
        )
        for n in (1, 2)
    )
    other = DynamoJobStore(aws["dynamodb"], table)
    store = InterleavedStore(aws["dynamodb"], table, lambda: other.add(second, max_running=1, expires_at=NOW))

    with pytest.raises(LimitExceededError, match="at most 1 may run"):
        store.add(first, max_running=1, expires_at=NOW + RETENTION)

    assert [item["backtest_id"] for item in stored_jobs(aws)] == ["bt-2"]


def test_another_users_job_is_not_found(api: Call, alice: World, build_world: Callable[[str], World]) -> None:
    backtest_id = submit(api, alice).body["backtest_id"]
    bob = build_world("bob")

    assert api("GET", BACKTEST, backtest_id=backtest_id, user="bob").status == 404
    assert api("GET", BACKTESTS, user="bob").body == {"items": [], "next_token": None}
    assert submit(api, bob, strategy_ids=[alice.strategy_id]).status == 404
    assert api("GET", BACKTEST, backtest_id=backtest_id, user="alice").status == 200


def test_my_jobs_list_newest_first_in_pages(
    api: Call, aws: dict[str, Any], alice: World, job_function: JobFunction, bucket: Any
) -> None:
    ids = []
    for _ in range(3):
        ids.append(submit(api, alice).body["backtest_id"])
        job_function.run(job_function.events[-1])
        aws["clock"].advance(timedelta(seconds=1))

    first = api("GET", BACKTESTS, user="alice", query={"limit": "2"}).body
    second = api("GET", BACKTESTS, user="alice", query={"limit": "2", "next_token": first["next_token"]}).body

    assert [job["backtest_id"] for job in first["items"] + second["items"]] == ids[::-1]
    assert all(job["status"] == "DONE" and job["report_url"] for job in first["items"])


def test_a_job_whose_strategy_is_gone_fails_with_the_error_and_gives_its_place_back(
    api: Call, alice: World, job_function: JobFunction, bucket: Any
) -> None:
    backtest_id = submit(api, alice).body["backtest_id"]
    assert (
        api("DELETE", "/options/strategies/{strategy_id}", strategy_id=alice.strategy_id, user="alice").status
        == 204
    )

    outcome = job_function.run(job_function.events[0])

    assert outcome["status"] == "FAILED" and outcome["error"] == "strategy not found"
    job = api("GET", BACKTEST, backtest_id=backtest_id, user="alice").body
    assert (job["status"], job["error"], job["result_url"]) == ("FAILED", "strategy not found", None)
    assert job["finished_at"] is not None
    assert bucket.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_an_unexpected_error_fails_the_job_without_its_details_and_raises_for_the_alarm(
    api: Call, alice: World, job_function: JobFunction
) -> None:
    backtest_id = submit(api, alice).body["backtest_id"]  # no bucket: writing the result fails

    with pytest.raises(Exception, match="NoSuchBucket"):
        job_function.run(job_function.events[0])

    job = api("GET", BACKTEST, backtest_id=backtest_id, user="alice").body
    assert job["status"] == "FAILED"
    assert job["error"].startswith("the backtest failed on our side (NoSuchBucket)")
    assert BUCKET not in job["error"]


def test_a_running_job_past_its_deadline_reads_as_failed_and_frees_its_place(
    api: Call, aws: dict[str, Any], alice: World, job_function: JobFunction
) -> None:
    stuck = submit(api, alice).body["backtest_id"]
    store = DynamoJobStore(aws["dynamodb"], aws["settings"].backtest_jobs_table_name)
    store.start("alice", stuck, NOW, NOW + JOB_TIMEOUT)  # its function then timed out
    waiting = submit(api, alice).body["backtest_id"]
    aws["clock"].advance(JOB_TIMEOUT + timedelta(seconds=1))

    job = api("GET", BACKTEST, backtest_id=stuck, user="alice").body

    assert job["status"] == "FAILED"
    assert job["error"].startswith("the backtest did not finish by its deadline")
    assert job["finished_at"] == job["deadline"]
    listed = {
        item["backtest_id"]: item["status"] for item in api("GET", BACKTESTS, user="alice").body["items"]
    }
    assert listed == {stuck: "FAILED", waiting: "QUEUED"}
    assert submit(api, alice).status == 202  # the stuck job no longer counts
    aws["clock"].advance(START_WITHIN)
    assert (
        api("GET", BACKTEST, backtest_id=waiting, user="alice")
        .body["error"]
        .startswith("the backtest was not started by its deadline")
    )
    assert job_function.run(job_function.events[1])["ran"] is False  # too late to start


def test_locally_the_job_runs_in_a_thread_and_its_files_are_served_to_its_owner_only(
    api: Call, aws: dict[str, Any], build_world: Callable[[str], World], tmp_path: Path
) -> None:
    files, starter = FileResultStore(tmp_path / "backtest-jobs"), ThreadJobStarter()
    _install(aws, backtest_starter=starter, backtest_results=files)
    alice = build_world("alice")
    backtest_id = submit(api, alice).body["backtest_id"]
    for thread in starter.threads:
        thread.join(timeout=60)

    job = api("GET", BACKTEST, backtest_id=backtest_id, user="alice").body

    assert job["status"] == "DONE", job
    assert job["report_url"] == f"/local/backtests/{backtest_id}/report.html"
    secret = new_secret()
    authorizer = TokenAuthorizer(secret, clock=aws["clock"])
    server = LocalApi(authorizer, InvocationLock(), "http://127.0.0.1:0", backtest_files=files)

    def get(path: str, user: str | None) -> tuple[str, bytes]:
        seen: list[str] = []
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path}
        if user is not None:
            token = issue_token(LocalUser(user_id=user), secret, aws["clock"].now())
            environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        body = b"".join(server(environ, lambda status, headers, *_: seen.append(status)))
        return seen[0], body

    status, body = get(job["result_url"], "alice")
    assert status == "200 OK" and json.loads(body)["summary"]["trading_days"] == 2
    assert get(job["report_url"], "bob")[0] == "404 Not Found"
    assert get(job["report_url"], None)[0] == "401 Unauthorized"
    assert get(f"/local/backtests/{backtest_id}/../../bob/x/report.html", "alice")[0] == "404 Not Found"


def test_the_job_judges_my_portfolio_rules_as_live(
    api: Call, aws: dict[str, Any], alice: World, job_function: JobFunction, bucket: Any
) -> None:
    # A rupee either way: the user's portfolio rule fires at the first check after the entry.
    rules = api("PUT", "/options/risk-settings", user="alice",
                body={"version": 0, "risk": {"mtm_stop_loss": 1, "mtm_target": 1}})  # fmt: skip
    assert rules.status == 200, rules.body
    backtest_id = submit(api, alice).body["backtest_id"]

    job_function.run(job_function.events[0])

    result = json.loads(
        bucket.get_object(Bucket=BUCKET, Key=f"backtests/alice/{backtest_id}/result.json")["Body"].read()
    )
    exits = {fill["run"] for day in result["days"] for fill in day["fills"] if fill["run"] != "ENTRY"}
    assert exits and exits <= {"PORTFOLIO_STOP_LOSS", "PORTFOLIO_TARGET"}, exits
