"""The master timer: a daily schedule starts a Standard state machine that emits timer events.

EventBridge Scheduler (time zone aware, so 09:00 is IST all year) invokes `timer_starter` every
day; the market calendar (read from the configurations table, where admins change it) decides
whether the day has a session and when it starts (a Sunday Muhurat evening waits until its
pre-open). The execution is named after the trade date, so a duplicate start is rejected rather
than doubling the loop. The state machine (Emit -> Choice -> Wait on TimestampPath -> Emit) is
defined in `step_functions/` and restarts itself as a new execution before its history bound,
hence `states:StartExecution` on its own ARN — built from its explicit name, because a
reference to the machine's own ARN token inside its role policy would be a circular dependency.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Acknowledgment, ArnFormat, Duration, Stack, TimeZone, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.aws_scheduler import ScheduleTargetInput
from constructs import Construct

from cdk_stack.brokers import manages_broker_sessions, market_data_secret
from cdk_stack.config import EnvironmentConfig
from cdk_stack.data import TableHandle, log_retention, removal_policy
from cdk_stack.events import dead_letter_queue, route_failures_to
from cdk_stack.functions import FunctionFactory, grant_table
from shared_utils.tables import resource_prefix
from shared_utils.timer.sessions import END_OF_DAY_ACTION

EMITTER_SUBSTITUTION = "EmitterFunctionArn"
START_RETRY_ATTEMPTS = 3
# The starter may run late (a retried start after an outage) but not after the session is over.
START_MAX_EVENT_AGE = Duration.hours(1)
# Broker sessions are logged out at this time (hour, minute) of the timer window's time zone:
# past the 15:30 IST close and the brokers' own square-off.
LOGOUT_AT = (16, 0)


def state_machine_name(config: EnvironmentConfig) -> str:
    return f"{resource_prefix(config.name)}-master-timer"


class MasterTimer(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        factory: FunctionFactory,
        bus: events.IEventBus,
        definition_file: Path,
        calendar_table: TableHandle,
        broker_accounts: TableHandle,
    ) -> None:
        super().__init__(scope, construct_id)
        prefix = resource_prefix(config.name)

        self.emitter = factory.create(
            self, "event_emitter", description="Emits the timer events of the current market phase"
        )
        bus.grant_put_events_to(self.emitter)
        grant_table(self.emitter, calendar_table, write=False)  # the calendar's admin changes

        name = state_machine_name(config)
        own_arn = Stack.of(self).format_arn(
            service="states",
            resource="stateMachine",
            resource_name=name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            log_group_name=f"/aws/vendedlogs/states/{name}",
            retention=log_retention(config),
            removal_policy=removal_policy(config),
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(definition_file.read_text(encoding="utf-8")),
            definition_substitutions={EMITTER_SUBSTITUTION: self.emitter.function_arn},
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
            removal_policy=removal_policy(config),
        )
        # The definition comes from a file, so CDK cannot infer its permissions: state them exactly.
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.emitter.function_arn])
        )
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[own_arn])
        )
        Validations.of(self.state_machine.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="CloudWatch Logs vended delivery (logs:CreateLogDelivery, "
                "logs:PutResourcePolicy, ...) and X-Ray (xray:PutTraceSegments, "
                "xray:GetSamplingRules, ...) support no resource-level permissions; CDK adds "
                "exactly those statements for logging and tracing.",
            )
        )

        self.starter = factory.create(
            self,
            "timer_starter",
            description="Starts the trade date's master-timer execution, takes in the instrument masters",
            settings={"timer_state_machine_arn": self.state_machine.state_machine_arn},
            # Kite's master is a few megabytes of CSV; Angel One's scrip master is tens of
            # megabytes of JSON, parsed whole.
            timeout=Duration.seconds(180),
            memory_size=1536,
        )
        self.state_machine.grant_start_execution(self.starter)
        # A real market-data source: the starter downloads its instrument master with the feed's
        # login and stores the accepted listing; with symbol books it stores each broker's. It
        # writes nothing else; with neither it only reads.
        secret = market_data_secret(config)
        writes = secret is not None or bool(config.market_data.symbol_books)
        grant_table(self.starter, calendar_table, write=writes)
        if secret is not None:
            factory.grant_market_data_secret(self.starter, secret)
        # The morning's logins and the evening's logouts set each account's state.
        grant_table(self.starter, broker_accounts, write=manages_broker_sessions(config))
        self.start_dlq = dead_letter_queue(self, "StartDlq", config)
        route_failures_to(self.starter, self.start_dlq)

        scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            description="Lets the daily schedule invoke timer_starter and write its DLQ, nothing else",
        )
        starter_id = Stack.of(self).get_logical_id(self.starter.node.default_child)  # type: ignore[arg-type]
        Validations.of(scheduler_role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{starter_id}.Arn>:*]",
                reason="lambda:InvokeFunction on the timer_starter function and its own "
                "versions/aliases (the suffix of that one function's ARN); no other function.",
            )
        )
        window = config.timer_window
        self.schedule = scheduler.Schedule(
            self,
            "DailyStart",
            schedule_name=f"{prefix}-master-timer-start",
            description=f"Start the master timer at {window.start} {window.time_zone}, {window.weekdays}, "
            "on the days the market calendar has a session",
            schedule=scheduler.ScheduleExpression.cron(
                minute=str(window.minute),
                hour=str(window.hour),
                week_day=window.weekdays,
                time_zone=TimeZone.of(window.time_zone),
            ),
            target=scheduler_targets.LambdaInvoke(
                self.starter,
                role=scheduler_role,
                dead_letter_queue=self.start_dlq,
                max_event_age=START_MAX_EVENT_AGE,
                retry_attempts=START_RETRY_ATTEMPTS,
            ),
        )
        # After the close every broker session is logged out, as the exchange asks (by the auth
        # stack where it keeps the sessions).
        self.logout_schedule = (
            None
            if not manages_broker_sessions(config)
            else scheduler.Schedule(
                self,
                "AfterClose",
                schedule_name=f"{prefix}-broker-logout",
                description=f"Log every broker session out at {LOGOUT_AT[0]:02d}:{LOGOUT_AT[1]:02d} "
                f"{window.time_zone}, after the session's close",
                schedule=scheduler.ScheduleExpression.cron(
                    minute=str(LOGOUT_AT[1]),
                    hour=str(LOGOUT_AT[0]),
                    week_day=window.weekdays,
                    time_zone=TimeZone.of(window.time_zone),
                ),
                target=scheduler_targets.LambdaInvoke(
                    self.starter,
                    input=ScheduleTargetInput.from_object({"action": END_OF_DAY_ACTION}),
                    role=scheduler_role,
                    dead_letter_queue=self.start_dlq,
                    max_event_age=START_MAX_EVENT_AGE,
                    retry_attempts=START_RETRY_ATTEMPTS,
                ),
            )
        )

    @property
    def functions(self) -> tuple[lambda_.Function, ...]:
        return (self.emitter, self.starter)
