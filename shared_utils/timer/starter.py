"""The daily start of the master timer: one execution per trade date that has a session.

The schedule fires every day; the calendar decides. A day without a session starts nothing; a
session's execution starts now and waits for the session's own pre-open (a Sunday Muhurat
evening at 18:00). The execution is named after the IST trade date (generation 0), so a second
start the same day (a retried schedule, a manual start) is rejected by Step Functions and logged
as harmless. A calendar that cannot be read raises: the schedule retries, then its DLQ alarms.
"""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from shared_utils.clock import Clock, to_ist, utc_iso
from shared_utils.timer.emitter import execution_name
from shared_utils.timer.market_view import MarketView

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

logger = Logger(child=True)


class StartOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    trade_date: date
    execution_name: str
    started: bool
    execution_arn: str | None = None
    reason: str
    # False on a day without a session, or once it is over: nothing of the day's set-up runs.
    session_ahead: bool = True


def start_daily_timer(
    sfn: SFNClient, state_machine_arn: str, clock: Clock, market: MarketView
) -> StartOutcome:
    now = clock.now()
    trade_date = to_ist(now).date()
    name = execution_name(trade_date, 0)
    if not market.is_trading_day(trade_date):
        logger.info("No session today: the timer stays off", extra={"trade_date": trade_date.isoformat()})
        return StartOutcome(
            trade_date=trade_date,
            execution_name=name,
            started=False,
            reason="no session",
            session_ahead=False,
        )
    first_tick, close = market.session_bounds(trade_date)
    if now > close:
        return StartOutcome(
            trade_date=trade_date,
            execution_name=name,
            started=False,
            reason="the session is over",
            session_ahead=False,
        )
    state = {"next_tick": utc_iso(max(now, first_tick)), "iteration": 0, "generation": 0}
    try:
        response = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(state))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise
        logger.info("Timer already started for this trade date", extra={"execution_name": name})
        return StartOutcome(
            trade_date=trade_date, execution_name=name, started=False, reason="already started today"
        )
    logger.info("Timer started", extra={"execution_name": name, "first_tick": state["next_tick"]})
    return StartOutcome(
        trade_date=trade_date,
        execution_name=name,
        started=True,
        execution_arn=response["executionArn"],
        reason="started",
    )
