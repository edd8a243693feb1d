"""The options-trading stack: it only composes the capability constructs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import CfnOutput, Duration, Environment, Stack
from constructs import Construct

from cdk_stack.api import RestApi, Route
from cdk_stack.auth import Auth
from cdk_stack.backtests import Backtests
from cdk_stack.brokers import BrokerAccess, manages_broker_sessions, market_data_secret
from cdk_stack.config import DEFAULT_PROJECT, EnvironmentConfig, stack_name
from cdk_stack.console import ConsoleHosting, console_settings, rest_api_origin
from cdk_stack.data import DataTables
from cdk_stack.events import TimerEvents, event_bus_name
from cdk_stack.execution import StrategyRunQueue
from cdk_stack.feed import LiveFeed
from cdk_stack.functions import FunctionFactory
from cdk_stack.monitoring import Monitoring
from cdk_stack.notifications import Notifications
from cdk_stack.signals import SignalWebhooks
from cdk_stack.timer import MasterTimer
from shared_utils.api.catalog import BACKTESTS, BASKET_MANAGER
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
        console_dir: Path,
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
            description=f"Options strategy platform ({config.name}): API, live feed, console, timer, "
            "event handlers, tables, broker access",
        )
        auth = Auth(self, "Auth", config=config)
        data = DataTables(self, "Data", config=config)
        self.brokers = BrokerAccess(self, "Brokers", config=config)
        self.runs = StrategyRunQueue(self, "StrategyRuns", config=config)
        self.backtests = Backtests(self, "Backtests", config=config)
        # First of the web-facing parts: the APIs' CORS, every function's CORS_ALLOWED_ORIGINS
        # and the console's app client (its callback URL) need the console's address.
        self.console = ConsoleHosting(self, "Console", config=config)
        console_client_id = auth.add_console_client(self.console.url)
        cors_origins = (self.console.origin, *config.cors_allowed_origins)
        settings = RuntimeSettings(
            environment=config.name,
            trading_table_name=data.trading.table.table_name,
            history_table_name=data.history.table.table_name,
            broker_accounts_table_name=auth.broker_accounts.table.table_name,
            idempotency_table_name=data.idempotency.table.table_name,
            feed_connections_table_name=data.feed_connections.table.table_name,
            event_bus_name=event_bus_name(config),
            schedule_shards=config.schedule_shards,
            square_off_minutes_before_close=config.square_off_minutes_before_close,
            strategy_run_queue_url=self.runs.queue.queue_url,
            market_data_source=config.market_data.source,
            market_data_secret=market_data_secret(config),
            symbol_book_brokers=",".join(config.market_data.symbol_books),
            broker_algo_id=config.algo_id,
            manage_broker_sessions=manages_broker_sessions(config),
            cors_allowed_origins=",".join(cors_origins),
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
        self.feed = LiveFeed(
            self,
            "Feed",
            config=config,
            factory=factory,
            data=data,
            broker_accounts=auth.broker_accounts,
            user_pool_id=auth.user_pool.user_pool_id,
            console_client_id=console_client_id,
        )
        # Fills, rejections, exits ... to users' Telegram and e-mail: a second reader of the
        # streams the feed reads, with its own queue (docs/notifications.md).
        self.notifications = Notifications(
            self,
            "Notifications",
            config=config,
            factory=factory,
            data=data,
            broker_accounts=auth.broker_accounts,
            secrets_key=self.brokers.key,
            stream_failures=self.feed.stream_failures,
        )
        self.events = TimerEvents(
            self,
            "Events",
            config=config,
            factory=factory,
            data=data,
            broker_accounts=auth.broker_accounts,
            built_elsewhere={DetailType.QUOTES_REFRESHED: self.feed.broadcaster},
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
            cors_origins=cors_origins,
            module_settings={
                BACKTESTS: self.backtests.settings(data, starts_jobs=True),
                BASKET_MANAGER: self.notifications.settings(),
            },
        )
        self.notifications.allow_settings_routes(self.api.functions[BASKET_MANAGER])
        self.executor = self.runs.add_executor(
            factory, config=config, data=data, broker_accounts=auth.broker_accounts
        )
        self.backtests.add_runner(factory, data=data)
        # Chart alerts on users' signal webhooks: public, on the same API (docs/signals.md).
        self.signals = SignalWebhooks(
            self, "Signals", factory=factory, api=self.api, data=data, runs=self.runs
        )
        if BACKTESTS in self.api.functions:
            self.backtests.allow_starting(self.api.functions[BACKTESTS])
        self.runs.allow_sending(
            self.events.handlers[DetailType.SCHEDULE_STRATEGY_TRIGGER],
            self.events.handlers[DetailType.CHECK_STOP_LOSS],
            self.api.functions["kill_switch"],
        )
        # The feed's stage logs through the account's API Gateway CloudWatch role, which the REST
        # API sets (`cloud_watch_role`): a stage deployed before it would be refused.
        cloud_watch_account = self.api.api.node.try_find_child("Account")
        if cloud_watch_account is not None:
            self.feed.stage.node.add_dependency(cloud_watch_account)
        self.console.allow_connections(
            rest_api_origin(self, self.api.api.rest_api_id), self.feed.origin, auth.hosted_ui_url
        )
        self.console.deploy(
            console_dir,
            console_settings(
                api_base_url=self.api.base_url,
                feed_url=self.feed.url,
                hosted_ui_url=auth.hosted_ui_url,
                client_id=console_client_id,
                redirect_uri=self.console.url,
            ),
        )
        dead_letter_queues = {
            **{detail_type.value: queue for detail_type, queue in self.events.dead_letter_queues.items()},
            "TimerStart": self.timer.start_dlq,
            "StrategyRuns": self.runs.dead_letters,
            "FeedStreams": self.feed.stream_failures,
            "Notifications": self.notifications.dead_letters,
            "BacktestRunner": self.backtests.dead_letters,
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
                "feed_connections": data.feed_connections,
                "backtest_jobs": data.backtest_jobs,
            },
            run_queue=self.runs.queue,
            # Half the entry bound: the alarm comes before entries are refused as too late.
            run_queue_age_alarm=Duration.seconds(settings.entry_max_lag_seconds // 2),
            dead_letter_queues=dead_letter_queues,
            api=self.api.api,
            feed=self.feed,
        )
        self.notifications.draw(self.monitoring.dashboard)
        # Admins who switched `platform_alarms` on hear every alarm on their own channels too.
        self.notifications.subscribe_alarms(self.monitoring.topic)
        self.functions = factory.functions
        CfnOutput(self, "EventBusName", value=self.events.bus.event_bus_name)
        CfnOutput(self, "StrategyRunQueueUrl", value=self.runs.queue.queue_url)
        CfnOutput(self, "MasterTimerArn", value=self.timer.state_machine.state_machine_arn)
