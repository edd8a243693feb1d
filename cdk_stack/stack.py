"""The options-trading stack: it only composes the capability constructs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import CfnOutput, Duration, Environment, Stack
from constructs import Construct

from cdk_stack.api import RestApi, Route
from cdk_stack.auth import Auth
from cdk_stack.brokers import BrokerAccess, manages_broker_sessions, market_data_secret
from cdk_stack.config import DEFAULT_PROJECT, EnvironmentConfig, stack_name
from cdk_stack.data import DataTables
from cdk_stack.events import TimerEvents, event_bus_name
from cdk_stack.execution import StrategyRunQueue
from cdk_stack.functions import FunctionFactory
from cdk_stack.monitoring import Monitoring
from cdk_stack.timer import MasterTimer
from shared_utils.events.catalog import DetailType
from shared_utils.settings import RuntimeSettings


class OptionsTradingStack(Stack):
    def __init__(
        self,
        scope: Construct,
        *,
        config: EnvironmentConfig,
        app_asset: Path,
        layer_asset: Path,
        timer_definition: Path,
        routes: Sequence[Route],
        project: str = DEFAULT_PROJECT,
    ) -> None:
        # The project names the stack (`deploy.sh -p`); resource names keep `resource_prefix`.
        name = stack_name(config.name, project)
        super().__init__(
            scope,
            name,
            stack_name=name,
            env=Environment(account=config.account, region=config.region),
            description=f"Options strategy platform ({config.name}): API, timer, event handlers, "
            "tables, broker access",
        )
        auth = Auth(self, "Auth", config=config)
        data = DataTables(self, "Data", config=config)
        self.brokers = BrokerAccess(self, "Brokers", config=config)
        self.runs = StrategyRunQueue(self, "StrategyRuns", config=config)
        settings = RuntimeSettings(
            environment=config.name,
            trading_table_name=data.trading.table.table_name,
            history_table_name=data.history.table.table_name,
            broker_accounts_table_name=auth.broker_accounts.table.table_name,
            idempotency_table_name=data.idempotency.table.table_name,
            event_bus_name=event_bus_name(config),
            schedule_shards=config.schedule_shards,
            square_off_minutes_before_close=config.square_off_minutes_before_close,
            strategy_run_queue_url=self.runs.queue.queue_url,
            market_data_source=config.market_data.source,
            market_data_secret=market_data_secret(config),
            symbol_book_brokers=",".join(config.market_data.symbol_books),
            broker_algo_id=config.algo_id,
            manage_broker_sessions=manages_broker_sessions(config),
            cors_allowed_origins=",".join(config.cors_allowed_origins),
        )
        factory = FunctionFactory(
            self,
            "Functions",
            config=config,
            settings=settings,
            app_asset=app_asset,
            layer_asset=layer_asset,
            brokers=self.brokers,
        )
        self.events = TimerEvents(
            self,
            "Events",
            config=config,
            factory=factory,
            data=data,
            broker_accounts=auth.broker_accounts,
        )
        self.timer = MasterTimer(
            self,
            "Timer",
            config=config,
            factory=factory,
            bus=self.events.bus,
            definition_file=timer_definition,
            calendar_table=data.trading,
            broker_accounts=auth.broker_accounts,
        )
        self.api = RestApi(
            self,
            "Api",
            config=config,
            factory=factory,
            user_pool=auth.user_pool,
            data=data,
            broker_accounts=auth.broker_accounts,
            routes=routes,
        )
        self.executor = self.runs.add_executor(
            factory, config=config, data=data, broker_accounts=auth.broker_accounts
        )
        self.runs.allow_sending(
            self.events.handlers[DetailType.SCHEDULE_STRATEGY_TRIGGER],
            self.events.handlers[DetailType.CHECK_STOP_LOSS],
            self.api.functions["kill_switch"],
        )
        dead_letter_queues = {
            **{detail_type.value: queue for detail_type, queue in self.events.dead_letter_queues.items()},
            "TimerStart": self.timer.start_dlq,
            "StrategyRuns": self.runs.dead_letters,
        }
        # Last: it alarms on every function, table and queue built above.
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            timer=self.timer,
            functions=factory.functions,
            tables={
                "trading": data.trading,
                "history": data.history,
                "idempotency": data.idempotency,
                "broker_accounts": auth.broker_accounts,
            },
            run_queue=self.runs.queue,
            # Half the entry bound: the alarm comes before entries are refused as too late.
            run_queue_age_alarm=Duration.seconds(settings.entry_max_lag_seconds // 2),
            dead_letter_queues=dead_letter_queues,
            api=self.api.api,
        )
        self.functions = factory.functions
        CfnOutput(self, "EventBusName", value=self.events.bus.event_bus_name)
        CfnOutput(self, "StrategyRunQueueUrl", value=self.runs.queue.queue_url)
        CfnOutput(self, "MasterTimerArn", value=self.timer.state_machine.state_machine_arn)
