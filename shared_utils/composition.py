"""The composition root: the one place a process builds its clients, repositories and services.

A Lambda cold start builds one `Platform` from the validated environment and the system clock on
first use (`platform()`); the local platform and the tests build their own, with their clock and
client, and `install` it. Every handler, router and timer function takes what it needs from the
installed root, so no domain code reads the wall clock or builds a client, and nothing else
caches one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics

from shared_utils.clock import Clock, SystemClock
from shared_utils.settings import RuntimeSettings, load_settings

# The market-data source's credentials are read again after this long (a daily token rotation
# reaches a warm container within minutes).
MARKET_DATA_SECRET_MAX_AGE_S = 300

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

    from shared_utils.accounts.linking import AccountLinking
    from shared_utils.backtest.job_ports import JobStarter, ResultStore
    from shared_utils.backtest.jobs import BacktestJobs
    from shared_utils.brokers.credentials import BrokerCredentials
    from shared_utils.brokers.egress import StaticEgressDirectory
    from shared_utils.brokers.login import BrokerLogin
    from shared_utils.brokers.models import BrokerName
    from shared_utils.brokers.registry import BrokerRegistry
    from shared_utils.calendar_service import CalendarService
    from shared_utils.catalog.preview import StrategyPreviewer
    from shared_utils.catalog.service import TradingCatalog
    from shared_utils.execution.engine import BrokerProvider
    from shared_utils.execution.executor import StrategyRunExecutor
    from shared_utils.execution.exits import PositionStopLossMonitor
    from shared_utils.execution.kill_switch import KillSwitch
    from shared_utils.execution.leases import StrategyLeases
    from shared_utils.execution.market import SimulatedOptionMarket
    from shared_utils.execution.quoted_market import QuotedOptionMarket
    from shared_utils.execution.reports import BrokerReconciler, DuplicateOrderScanner
    from shared_utils.execution.requests import ExecutionRequester
    from shared_utils.execution.runs import RunQueue
    from shared_utils.execution.service import ExecutionService, StrategyReader
    from shared_utils.execution.signals import SignalDispatcher
    from shared_utils.execution.store import ExecutionStore
    from shared_utils.feed.authorizer import CognitoTokenVerifier
    from shared_utils.feed.broadcaster import Broadcaster, BroadcastReport, ConnectionSender
    from shared_utils.feed.connections import ConnectionDirectory
    from shared_utils.market.calendar import TradingCalendar
    from shared_utils.market_data.listing_store import CurrentListing
    from shared_utils.market_data.models import MarketDataSource
    from shared_utils.market_data.symbol_book import SymbolBooks
    from shared_utils.marketplace.repository import DynamoMarketplaceRepository
    from shared_utils.marketplace.service import MarketplaceService
    from shared_utils.notifications.channels import Outbox
    from shared_utils.notifications.notifier import Notifier, NotifyReport
    from shared_utils.notifications.queue import NotificationQueue
    from shared_utils.notifications.secrets import NotificationSecrets
    from shared_utils.notifications.sender import DeliverySender
    from shared_utils.notifications.service import NotificationSettingsService
    from shared_utils.notifications.settings_store import NotificationSettingsStore
    from shared_utils.repository.broker_accounts import DynamoBrokerAccounts
    from shared_utils.repository.trading import DynamoTradingRepository
    from shared_utils.signals.receiver import SignalReceiver
    from shared_utils.signals.service import WebhookService
    from shared_utils.signals.store import DynamoWebhookStore
    from shared_utils.timer.calendar_view import CalendarMarketView
    from shared_utils.timer.envelope import TimerEnvelope
    from shared_utils.timer.listing import DownloadedOnce, InstrumentSource, ListingReport
    from shared_utils.timer.market_data import RefreshReport
    from shared_utils.timer.publisher import EventPublisher
    from shared_utils.timer.schedule_view import RepositorySchedule
    from shared_utils.timer.symbol_books import BookReport, InstrumentMaster
    from shared_utils.timer.triggers import TriggerReport


class Platform:
    """Everything one process uses, built lazily (a function pays only for what it touches) and
    kept for the life of the process: clients, the broker registry with its per-account rate
    limiters and circuits, and the option market's chain cache survive warm invocations.

    Imports sit inside the builders so a handler's cold start loads only its own dependencies.
    """

    def __init__(
        self,
        settings: RuntimeSettings,
        clock: Clock,
        *,
        dynamodb: DynamoDBClient | None = None,
        events: EventBridgeClient | None = None,
        stepfunctions: SFNClient | None = None,
        sqs: SQSClient | None = None,
        secretsmanager: SecretsManagerClient | None = None,
        one_process: bool = False,
        run_queue: RunQueue | None = None,
        announcer: EventPublisher | None = None,
        feed_sender: ConnectionSender | None = None,
        feed_directory: ConnectionDirectory | None = None,
        backtest_starter: JobStarter | None = None,
        backtest_results: ResultStore | None = None,
        notification_queue: NotificationQueue | None = None,
        notification_outbox: Outbox | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        # Every handler runs in this process (the local platform, `simulate`, tests): the paper
        # broker's book is the one the orders went to. In Lambda each container has its own.
        self.one_process = one_process
        # A process that runs everything itself hands in its own run queue (the local platform's
        # in-process workers); otherwise runs go to the stack's SQS queue.
        self._run_queue = run_queue
        # A process without EventBridge (the local platform) delivers the events its handlers
        # announce itself, and sends the feed's messages over its own WebSocket server.
        self.announcer = announcer
        self._feed_sender = feed_sender
        self._feed_directory = feed_directory
        # A process without Lambda and S3 (the local platform) runs backtest jobs in a thread of
        # its own and keeps their files on disk; otherwise the job function and the bucket.
        self._backtest_starter = backtest_starter
        self._backtest_results = backtest_results
        # A process that runs everything itself queues notifications in process, and keeps what
        # would go to e-mail (and to Telegram, unless TELEGRAM_API_URL names one) in an outbox.
        self._notification_queue = notification_queue
        self._notification_outbox = notification_outbox
        self._given: dict[str, Any] = {
            "dynamodb": dynamodb,
            "events": events,
            "stepfunctions": stepfunctions,
            "sqs": sqs,
            "secretsmanager": secretsmanager,
        }
        self._downloads: dict[date, DownloadedOnce] = {}

    def close(self) -> None:
        """Stop what this root started in process (the local run queue's workers)."""
        queue = self.__dict__.get("run_queue", self._run_queue)
        stop = getattr(queue, "stop", None)
        if stop is not None:
            stop()

    # ------------------------------------------------------------------ clients

    def _client(self, service: str, **options: Any) -> Any:
        """The client handed in, else a boto3 client built on first use (never at import)."""
        given = self._given.get(service)
        if given is not None:
            return given
        import boto3

        return boto3.client(service, **options)  # type: ignore[call-overload]

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        return self._client("dynamodb", endpoint_url=self.settings.dynamodb_endpoint_url)

    @cached_property
    def events(self) -> EventBridgeClient:
        return self._client("events")

    @cached_property
    def stepfunctions(self) -> SFNClient:
        return self._client("stepfunctions")

    @cached_property
    def sqs(self) -> SQSClient:
        return self._client("sqs")

    @cached_property
    def secretsmanager(self) -> SecretsManagerClient:
        return self._client("secretsmanager")

    @cached_property
    def lambda_client(self) -> Any:
        return self._client("lambda")

    @cached_property
    def s3(self) -> Any:
        """Presigned links name the bucket's regional endpoint (a global one redirects)."""
        from botocore.config import Config

        return self._client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))

    @cached_property
    def idempotency_store(self) -> DynamoDBPersistenceLayer:
        """The timer handlers' once-per-tick records. One persistence layer per process: each one
        registers a user-agent hook on the shared client."""
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        return DynamoDBPersistenceLayer(
            table_name=self.settings.idempotency_table_name, boto3_client=self.dynamodb
        )

    @cached_property
    def api_idempotency_store(self) -> DynamoDBPersistenceLayer:
        """The API's `Idempotency-Key` records (same table, its own layer: Powertools configures a
        layer per decorated function)."""
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        return DynamoDBPersistenceLayer(
            table_name=self.settings.idempotency_table_name, boto3_client=self.dynamodb
        )

    # ------------------------------------------------------------------ market knowledge

    @cached_property
    def calendar_service(self) -> CalendarService:
        from shared_utils.calendar_service import CalendarService
        from shared_utils.repository.calendar import DynamoCalendarChanges

        return CalendarService(
            DynamoCalendarChanges(self.dynamodb, self.settings.trading_table_name), self.clock
        )

    def calendar(self) -> TradingCalendar:
        """The shipped calendar with the admins' changes, read at most once a minute, so a change
        takes effect at the next tick without a deploy."""
        return self.calendar_service.calendar()

    def market_view(self) -> CalendarMarketView:
        from shared_utils.timer.calendar_view import CalendarMarketView

        return CalendarMarketView(self.calendar())

    # ------------------------------------------------------------------ repositories

    @cached_property
    def broker_accounts(self) -> DynamoBrokerAccounts:
        from shared_utils.repository.broker_accounts import DynamoBrokerAccounts

        return DynamoBrokerAccounts(self.dynamodb, self.settings.broker_accounts_table_name)

    @cached_property
    def trading_repository(self) -> DynamoTradingRepository:
        from shared_utils.repository.trading import DynamoTradingRepository

        return DynamoTradingRepository(
            self.dynamodb,
            self.settings.trading_table_name,
            self.clock,
            schedule_shards=self.settings.schedule_shards,
            broker_accounts=self.broker_accounts,
        )

    @cached_property
    def catalog(self) -> TradingCatalog:
        """Baskets, strategies and allocations as the API changes them."""
        from shared_utils.catalog.service import TradingCatalog

        return TradingCatalog(
            self.trading_repository,
            self.clock,
            self.calendar,
            self.execution_service,
            self.strategy_leases,
            on_deleted=lambda user_id, strategy_ids: self.webhooks().delete_for_strategies(
                user_id, strategy_ids
            ),
        )

    @cached_property
    def strategy_previewer(self) -> StrategyPreviewer:
        """A strategy draft priced as an entry would trade it now (nothing stored): the option
        market, calendar and listing planning uses."""
        from shared_utils.catalog.preview import StrategyPreviewer

        return StrategyPreviewer(
            self.option_market,
            self.calendar,
            self.clock,
            rate=self.settings.option_pricing_rate,
            listing=self.current_listing,
        )

    @cached_property
    def backtest_jobs(self) -> BacktestJobs:
        """Backtests as jobs: submitted and read by the API, run by the job function (or, in a
        process that runs everything itself, a thread of it)."""
        from shared_utils.backtest.job_ports import LambdaJobStarter, S3ResultStore
        from shared_utils.backtest.job_store import DynamoJobStore
        from shared_utils.backtest.jobs import BacktestJobs, JobLimits
        from shared_utils.errors import ConfigurationError

        table = self.settings.backtest_jobs_table_name
        if not table:
            raise ConfigurationError("BACKTEST_JOBS_TABLE_NAME is not set: this platform keeps no backtests")
        return BacktestJobs(
            DynamoJobStore(self.dynamodb, table),
            self.trading_repository,
            self._backtest_starter
            or LambdaJobStarter(lambda: self.lambda_client, self.settings.backtest_runner_function),
            self._backtest_results or S3ResultStore(lambda: self.s3, self.settings.backtest_results_bucket),
            self.clock,
            JobLimits.from_settings(self.settings),
            calendar=self.calendar,
        )

    @cached_property
    def execution_store(self) -> ExecutionStore:
        from shared_utils.execution.store import ExecutionStore

        return ExecutionStore(self.dynamodb, self.settings.history_table_name)

    @cached_property
    def strategy_leases(self) -> StrategyLeases:
        """One per process: re-entrancy and renewals are tracked in it."""
        from shared_utils.execution.leases import StrategyLeases

        return StrategyLeases(self.dynamodb, self.settings.history_table_name, self.clock)

    @cached_property
    def marketplace_repository(self) -> DynamoMarketplaceRepository:
        from shared_utils.marketplace.repository import DynamoMarketplaceRepository

        return DynamoMarketplaceRepository(self.dynamodb, self.settings.trading_table_name, self.clock)

    # ------------------------------------------------------------------ market and brokers

    @cached_property
    def option_market(self) -> SimulatedOptionMarket | QuotedOptionMarket:
        """Premiums from the market's own quotes; with the simulated source (configured, never a
        fallback), modelled with Black-Scholes on the simulated level. Either way a level or a
        quote missing or older than the bound prices nothing (no entry, no stop-loss decision)."""
        from shared_utils.execution.levels import CachedLevels
        from shared_utils.execution.market import SimulatedOptionMarket
        from shared_utils.execution.quoted_market import QuotedOptionMarket
        from shared_utils.market_data.cache import QuoteCache
        from shared_utils.settings import MarketDataSourceName

        cache = QuoteCache(self.dynamodb, self.settings.trading_table_name)
        max_age = timedelta(seconds=self.settings.quote_max_age_seconds)
        levels = CachedLevels(cache, self.clock, max_age=max_age)
        if self.settings.market_data_source is MarketDataSourceName.SIMULATED:
            return SimulatedOptionMarket(levels, self.clock, calendar=self.calendar)
        return QuotedOptionMarket(
            cache,
            levels,
            self.clock,
            max_age=max_age,
            rate=self.settings.option_pricing_rate,
            calendar=self.calendar,
        )

    @cached_property
    def broker_registry(self) -> BrokerRegistry:
        from shared_utils.brokers._common import BrokerEndpoint
        from shared_utils.brokers.credentials import (
            CredentialsProvider,
            SecretsManagerCredentialsProvider,
            StaticCredentialsProvider,
        )
        from shared_utils.brokers.models import BrokerName
        from shared_utils.brokers.registry import ADAPTERS, BrokerRegistry, RegistryConfig, SharedGuards
        from shared_utils.market_data.cache import QuoteCache
        from shared_utils.market_data.protection_prices import CachedProtectionPrices

        credentials: CredentialsProvider
        if not self.settings.broker_secret_prefix:
            # No secrets configured: paper accounts trade, any real account fails closed (auth error).
            credentials = StaticCredentialsProvider({})
        else:
            from aws_lambda_powertools.utilities import parameters

            credentials = SecretsManagerCredentialsProvider(
                self.settings.broker_secret_prefix, parameters.SecretsProvider(), Metrics()
            )
        books = self.symbol_books
        endpoint = BrokerEndpoint(algo_id=self.settings.broker_algo_id)
        config = RegistryConfig(
            endpoints={name: endpoint for name in ADAPTERS},
            # The history table: every function that calls brokers may write it.
            shared_guards=SharedGuards(self.dynamodb, self.settings.history_table_name),
            protection_prices=CachedProtectionPrices(
                QuoteCache(self.dynamodb, self.settings.trading_table_name)
            ),
            protection_max_age=timedelta(seconds=self.settings.quote_max_age_seconds),
            symbol_book=books,
            angel_one_tokens=lambda exchange, symbol: books.token(BrokerName.ANGEL_ONE, exchange, symbol),
            finvasia_tokens=lambda exchange, symbol: books.token(BrokerName.FINVASIA, exchange, symbol),
            upstox_tokens=lambda exchange, symbol: books.token(BrokerName.UPSTOX, exchange, symbol),
            dhan_tokens=lambda exchange, symbol: books.token(BrokerName.DHAN, exchange, symbol),
        )
        return BrokerRegistry(credentials, self.clock, prices=self.option_market.price, config=config)

    @cached_property
    def symbol_books(self) -> SymbolBooks:
        """Each broker's listed symbols and tokens, as the morning kept them."""
        from shared_utils.market_data.symbol_book import SymbolBooks, SymbolBookStore

        return SymbolBooks(SymbolBookStore(self.dynamodb, self.settings.trading_table_name), self.clock)

    # ------------------------------------------------------------------ services

    def brokers_for_user(self, user_id: str) -> BrokerProvider:
        """The brokers of one user's accounts (the registry caches the clients)."""
        from shared_utils.execution.accounts import AccountBrokers

        return AccountBrokers(
            self.broker_registry,
            self.broker_accounts,
            user_id,
            clock=self.clock,
            on_refused=lambda user, account: self.account_linking.needs_login(user, account),
            egress=self.egress_directory,
        )

    @cached_property
    def egress_directory(self) -> StaticEgressDirectory | None:
        """Each client group's static-IP egress, as the stack published it; None where the
        environment has none (dev, the local platform: orders leave from the function)."""
        from shared_utils.brokers.egress import StaticEgressDirectory

        document = self.settings.client_egress
        return None if document is None else StaticEgressDirectory.from_json(document)

    @cached_property
    def account_linking(self) -> AccountLinking:
        """Linking, the daily login and logout of broker accounts. Secrets go to Secrets Manager
        under two prefixes (app credentials apart from sessions); without them (the local
        platform) they are held in memory."""
        from shared_utils.accounts.linking import AccountLinking
        from shared_utils.accounts.secrets import (
            AccountSecrets,
            MemoryAccountSecrets,
            SecretsManagerAccountSecrets,
        )
        from shared_utils.brokers.angel_login import AngelOneLogin
        from shared_utils.brokers.dhan_login import DhanBrokerLogin
        from shared_utils.brokers.finvasia_login import FinvasiaLogin
        from shared_utils.brokers.kite_login import KiteLogin
        from shared_utils.brokers.models import BrokerName
        from shared_utils.brokers.upstox_login import UpstoxBrokerLogin

        store: AccountSecrets
        if self.settings.broker_secret_prefix and self.settings.broker_app_secret_prefix:
            store = SecretsManagerAccountSecrets(
                self.secretsmanager,
                self.settings.broker_app_secret_prefix,
                self.settings.broker_secret_prefix,
                self.settings.broker_secret_kms_key,
            )
        else:
            store = MemoryAccountSecrets()
        logins: dict[BrokerName, BrokerLogin] = {
            BrokerName.ZERODHA: KiteLogin(self.clock),
            BrokerName.ANGEL_ONE: AngelOneLogin(self.clock),
            BrokerName.FINVASIA: FinvasiaLogin(self.clock),
            BrokerName.UPSTOX: UpstoxBrokerLogin(self.clock),
            BrokerName.DHAN: DhanBrokerLogin(self.clock),
        }
        return AccountLinking(self.broker_accounts, store, logins, self.clock)

    def execution_service(
        self, metrics: Metrics | None = None, strategies: StrategyReader | None = None
    ) -> ExecutionService:
        """The execution service; `strategies` replaces the repository as the strategy reader (the
        marketplace runs a published strategy for its subscribers through it)."""
        from shared_utils.execution.service import ExecutionService
        from shared_utils.marketplace.trading import SubscriberStrategyLookup

        return ExecutionService(
            self.execution_store,
            strategies if strategies is not None else self.trading_repository,
            self.brokers_for_user,
            self.option_market,
            self.calendar(),
            self.clock,
            leases=self.strategy_leases,
            metrics=metrics,
            listing=self.current_listing,
            subscribed=SubscriberStrategyLookup(self.trading_repository, self.marketplace_repository)
            if strategies is None
            else None,
        )

    @cached_property
    def current_listing(self) -> CurrentListing | None:
        """The exchange's listing planning trusts; None with the simulated source (it lists
        nothing: the rules decide)."""
        from shared_utils.market_data.listing_store import CurrentListing, ListingStore
        from shared_utils.settings import MarketDataSourceName

        if self.settings.market_data_source is MarketDataSourceName.SIMULATED:
            return None
        return CurrentListing(ListingStore(self.dynamodb, self.settings.trading_table_name), self.clock)

    def kill_switch(self, metrics: Metrics | None = None) -> KillSwitch:
        from shared_utils.execution.kill_switch import KillSwitch

        return KillSwitch(
            self.execution_service(metrics), self.trading_repository, self.run_queue, self.clock
        )

    # ------------------------------------------------------------------ strategy runs

    @cached_property
    def run_queue(self) -> RunQueue:
        """Where the deciding side (timer, stop-loss check, kill switch) sends strategy runs: the
        queue handed in (a process that runs everything itself), else the stack's SQS queue."""
        if self._run_queue is not None:
            return self._run_queue
        url = self.settings.strategy_run_queue_url
        if not url:
            from shared_utils.errors import ConfigurationError

            raise ConfigurationError("STRATEGY_RUN_QUEUE_URL is not set: strategy runs have nowhere to go")
        from shared_utils.execution.sqs_queue import SqsRunQueue

        return SqsRunQueue(self.sqs, url)

    def run_executor(self, metrics: Metrics | None = None) -> StrategyRunExecutor:
        """The executor of one strategy-run message (owner runs, subscriber runs, fan-out pages,
        a user's kill switch)."""
        from shared_utils.execution.executor import StrategyRunExecutor
        from shared_utils.marketplace.trading import (
            SubscribedStrategies,
            SubscriberExecutions,
            SubscriberRuns,
        )

        def service_for(reader: SubscribedStrategies) -> SubscriberExecutions:
            return self.execution_service(metrics, strategies=reader)

        return StrategyRunExecutor(
            self.execution_service(metrics),
            self.run_queue,
            self.clock,
            subscribers=SubscriberRuns(
                self.marketplace_repository, self.trading_repository, service_for, self.run_queue
            ),
            kill_switch=self.kill_switch(metrics),
            entry_max_lag=timedelta(seconds=self.settings.entry_max_lag_seconds),
            checks=self.stop_loss_monitor(),
            metrics=metrics,
        )

    def marketplace_service(self) -> MarketplaceService:
        from shared_utils.marketplace.service import MarketplaceService

        return MarketplaceService(
            self.marketplace_repository,
            self.trading_repository,
            self.broker_accounts,
            self.execution_store,
            self.clock,
        )

    # ------------------------------------------------------------------ timer

    def publisher(self) -> EventPublisher:
        from shared_utils.timer.publisher import EventBridgePublisher

        return EventBridgePublisher(self.events, self.settings.event_bus_name)

    def schedule(self) -> RepositorySchedule:
        from shared_utils.timer.schedule_view import RepositorySchedule

        return RepositorySchedule(self.trading_repository)

    def execution_requester(self) -> ExecutionRequester:
        """Queues the owner's run and, for a listed basket, the fan-out to its subscribers."""
        from shared_utils.marketplace.trading import QueuedExecutions

        return QueuedExecutions(self.run_queue, self.marketplace_repository)

    def trigger(self, envelope: TimerEnvelope) -> TriggerReport:
        from shared_utils.timer.triggers import DynamoTriggerClaims, trigger_due_strategies

        view = self.schedule()
        return trigger_due_strategies(
            envelope,
            view,
            view,
            self.calendar(),
            DynamoTriggerClaims(self.dynamodb, self.settings.trading_table_name),
            self.execution_requester(),
        )

    def signal_dispatcher(self) -> SignalDispatcher:
        """Signals from the users' webhooks onto the run queue (the webhook Lambda's)."""
        from shared_utils.execution.signals import SignalDispatcher

        return SignalDispatcher(
            self.trading_repository,
            self.execution_store,
            self.calendar(),
            self.run_queue,
            square_off_before=timedelta(minutes=self.settings.square_off_minutes_before_close),
        )

    @cached_property
    def webhook_store(self) -> DynamoWebhookStore:
        """Users' signal webhooks, their token lookups and their signals (configurations table)."""
        from shared_utils.signals.store import DynamoWebhookStore

        return DynamoWebhookStore(self.dynamodb, self.settings.trading_table_name)

    def webhooks(self) -> WebhookService:
        """The webhook routes' service: create, list, rotate, delete, and each one's signals."""
        from shared_utils.signals.service import WebhookService

        return WebhookService(self.webhook_store, self.trading_repository, self.clock)

    def signal_receiver(self) -> SignalReceiver:
        """The public `/signals/{token}` endpoint's decisions, handing signals to the dispatcher."""
        from shared_utils.signals.receiver import SignalReceiver

        return SignalReceiver(self.webhook_store, self.signal_dispatcher(), self.clock)

    def stop_loss_monitor(self) -> PositionStopLossMonitor:
        from shared_utils.execution.exits import PositionStopLossMonitor
        from shared_utils.execution.portfolio import PortfolioMonitor
        from shared_utils.marketplace.trading import SubscriberStrategyLookup

        return PositionStopLossMonitor(
            self.execution_store,
            SubscriberStrategyLookup(self.trading_repository, self.marketplace_repository),
            self.option_market,
            self.calendar(),
            self.run_queue,
            square_off_before=timedelta(minutes=self.settings.square_off_minutes_before_close),
            portfolio=PortfolioMonitor(self.execution_store, self.trading_repository, self.option_market),
        )

    def duplicate_order_scanner(self) -> DuplicateOrderScanner:
        from shared_utils.execution.duplicates import LedgerDuplicateScanner

        return LedgerDuplicateScanner(self.execution_store, self.clock, Metrics())

    def broker_reconciler(self) -> BrokerReconciler:
        from shared_utils.execution.reconcile import LedgerBrokerReconciler

        return LedgerBrokerReconciler(
            self.execution_store,
            self.brokers_for_user,
            self.clock,
            overdue_after=timedelta(seconds=self.settings.unknown_order_alert_seconds),
            check_paper=self.one_process,
            metrics=Metrics(),
        )

    def refresh(self, envelope: TimerEnvelope) -> RefreshReport:
        from shared_utils.market_data.cache import QuoteCache
        from shared_utils.settings import MarketDataSourceName
        from shared_utils.timer.market_data import ContractPlan, refresh_market_data

        contracts = None
        if self.settings.market_data_source is not MarketDataSourceName.SIMULATED:
            contracts = ContractPlan(
                self.execution_store,
                self.calendar,
                self.settings.chain_strikes_each_side,
                armed=self.execution_store,
            )
        return refresh_market_data(
            envelope,
            self.schedule(),
            self.market_data_source(),
            QuoteCache(self.dynamodb, self.settings.trading_table_name),
            self.clock.now(),
            contracts,
        )

    def market_data_source(self) -> MarketDataSource:
        """The configured source of the minute's quotes. Unset, or one this build has no adapter
        for: a `ConfigurationError` (the refresh fails, its alarm fires, and with no fresh quote
        nothing is entered or judged), never a simulation in its place."""
        from shared_utils.errors import ConfigurationError
        from shared_utils.settings import MarketDataSourceName

        source = self.settings.market_data_source
        if source is MarketDataSourceName.SIMULATED:
            from shared_utils.market_data.simulated import SimulatedMarketData

            return SimulatedMarketData()
        if source is None:
            raise ConfigurationError("MARKET_DATA_SOURCE is not set: no quotes are refreshed")
        if source is MarketDataSourceName.KITE:
            from shared_utils.brokers._common import BrokerEndpoint
            from shared_utils.market_data.kite import KiteMarketData

            endpoint = BrokerEndpoint(base_url=self.settings.market_data_url)
            return KiteMarketData(self.market_data_credentials(), endpoint)
        # Angel One and Finvasia quote by symbol token (market_data/angel_one.py, finvasia.py):
        # their token masters are not downloaded yet, so neither can be the minute's source.
        raise ConfigurationError(
            f"market data source {source.value} needs its broker's symbol-token master, which this "
            "build does not download yet: no quotes are refreshed"
        )

    def refresh_listing(self, trade_date: date) -> ListingReport | None:
        """Download, check and store the day's instrument master from the configured source;
        None for the simulated source (it lists nothing: the rules are its listing)."""
        from shared_utils.market_data.listing_store import ListingStore
        from shared_utils.timer.listing import InstrumentSource, refresh_listing

        source = self.market_data_source()
        if not isinstance(source, InstrumentSource):
            return None
        return refresh_listing(
            self._morning_download(trade_date, source),
            str(self.settings.market_data_source),
            ListingStore(self.dynamodb, self.settings.trading_table_name),
            trade_date,
            self.calendar(),
        )

    def refresh_symbol_books(self, trade_date: date) -> list[BookReport]:
        """Keep the day's instrument master of every configured broker (and of the market-data
        source's broker, from the listing's own download) as its symbol book."""
        from shared_utils.market_data.symbol_book import SymbolBookStore
        from shared_utils.timer.symbol_books import refresh_symbol_books

        return refresh_symbol_books(
            self.instrument_masters(trade_date),
            SymbolBookStore(self.dynamodb, self.settings.trading_table_name),
            trade_date,
        )

    def instrument_masters(self, trade_date: date) -> dict[BrokerName, InstrumentMaster]:
        from shared_utils.brokers.models import BrokerName
        from shared_utils.brokers.registry import parse_broker_name
        from shared_utils.errors import ConfigurationError
        from shared_utils.settings import MarketDataSourceName
        from shared_utils.timer.listing import InstrumentSource

        masters: dict[BrokerName, InstrumentMaster] = {}
        for name in self.settings.symbol_books:
            broker = parse_broker_name(name)
            if broker is BrokerName.ANGEL_ONE:
                from shared_utils.market_data.angel_master import AngelScripMaster

                masters[broker] = AngelScripMaster()
            elif broker is BrokerName.FINVASIA:
                from shared_utils.market_data.noren_master import NorenSymbolFiles

                masters[broker] = NorenSymbolFiles()
            elif broker is BrokerName.UPSTOX:
                from shared_utils.market_data.upstox_master import UpstoxInstruments

                masters[broker] = UpstoxInstruments()
            elif broker is BrokerName.DHAN:
                from shared_utils.market_data.dhan_master import DhanScripMaster

                masters[broker] = DhanScripMaster()
            elif broker is not BrokerName.ZERODHA:
                raise ConfigurationError(f"no instrument master download for {broker.value}")
        if self.settings.market_data_source is MarketDataSourceName.KITE:
            # Kite's dump needs the source's login; it is the listing's download, read once.
            source = self.market_data_source()
            if isinstance(source, InstrumentSource):
                masters[BrokerName.ZERODHA] = self._morning_download(trade_date, source)
        return masters

    def _morning_download(self, trade_date: date, source: InstrumentSource) -> DownloadedOnce:
        from shared_utils.timer.listing import DownloadedOnce

        held = self._downloads.get(trade_date)
        if held is None:
            held = self._downloads[trade_date] = DownloadedOnce(source)
        return held

    def market_data_credentials(self) -> BrokerCredentials:
        """The market-data source's credentials from Secrets Manager (cached for 5 minutes); a
        missing or malformed secret is a `ConfigurationError` naming it."""
        from aws_lambda_powertools.utilities import parameters
        from pydantic import ValidationError

        from shared_utils.brokers.credentials import BrokerCredentials
        from shared_utils.errors import ConfigurationError

        name = self.settings.market_data_secret
        if not name:
            raise ConfigurationError("MARKET_DATA_SECRET is not set: the market-data source cannot log in")
        try:
            raw = self.secrets.get(name, max_age=MARKET_DATA_SECRET_MAX_AGE_S, transform="json")
            return BrokerCredentials.model_validate(raw)
        except (
            parameters.exceptions.GetParameterError,
            parameters.exceptions.TransformParameterError,
            ValidationError,
        ) as error:
            # The secret's name and the error's type only: a message may quote the content.
            raise ConfigurationError(
                f"the market-data login {name} is unreadable ({type(error).__name__})"
            ) from None

    # ------------------------------------------------------------------ notifications

    @cached_property
    def notification_queue(self) -> NotificationQueue:
        """The deliveries' queue: the one handed in, else the stack's SQS queue."""
        if self._notification_queue is not None:
            return self._notification_queue
        from shared_utils.errors import ConfigurationError
        from shared_utils.notifications.queue import SqsNotificationQueue

        url = self.settings.notification_queue_url
        if not url:
            raise ConfigurationError("NOTIFICATION_QUEUE_URL is not set: notifications have nowhere to go")
        return SqsNotificationQueue(self.sqs, url)

    @cached_property
    def notification_settings_store(self) -> NotificationSettingsStore:
        from shared_utils.notifications.settings_store import NotificationSettingsStore

        return NotificationSettingsStore(self.dynamodb, self.settings.trading_table_name, self.clock)

    @cached_property
    def notification_secrets(self) -> NotificationSecrets:
        """Users' Telegram bot tokens: Secrets Manager under the prefix, else (the local platform,
        tests) in memory."""
        from shared_utils.notifications.secrets import (
            MemoryNotificationSecrets,
            SecretsManagerNotificationSecrets,
        )

        if not self.settings.notification_secret_prefix:
            return MemoryNotificationSecrets()
        return SecretsManagerNotificationSecrets(
            self.secretsmanager,
            self.settings.notification_secret_prefix,
            self.clock,
            self.settings.notification_secret_kms_key,
        )

    @cached_property
    def notification_settings(self) -> NotificationSettingsService:
        from shared_utils.notifications.service import NotificationSettingsService

        return NotificationSettingsService(
            self.notification_settings_store,
            self.notification_secrets,
            self.notification_queue,
            self.clock,
            email_available=self._notification_outbox is not None
            or self.settings.notification_email_sender is not None,
        )

    @cached_property
    def notifier(self) -> Notifier:
        from shared_utils.notifications.notifier import Notifier
        from shared_utils.tables import resource_prefix

        return Notifier(
            self.notification_settings_store,
            self.notification_queue,
            self.clock,
            alarm_name_prefix=f"{resource_prefix(self.settings.environment)}-",
        )

    def notify_records(self, records: Iterable[dict[str, Any]]) -> NotifyReport:
        """A stream batch of the history and broker-accounts tables, or the alarm topic's SNS
        records -> deliveries queued."""
        return self.notifier.records(
            records, self.settings.history_table_name, self.settings.broker_accounts_table_name
        )

    @cached_property
    def notification_sender(self) -> DeliverySender:
        """Telegram through its Bot API and e-mail through SES; where an outbox is handed in,
        e-mail always and Telegram unless TELEGRAM_API_URL names an API."""
        from shared_utils.notifications.channels import (
            TELEGRAM_API_URL,
            EmailSender,
            SesEmail,
            TelegramBotApi,
            TelegramSender,
        )
        from shared_utils.notifications.marks import DeliveryMarks
        from shared_utils.notifications.sender import DeliverySender

        outbox = self._notification_outbox
        telegram: TelegramSender
        if outbox is not None and not self.settings.telegram_api_url:
            telegram = outbox
        else:
            telegram = TelegramBotApi(self.settings.telegram_api_url or TELEGRAM_API_URL)
        email: EmailSender | None = outbox
        if outbox is None and self.settings.notification_email_sender:
            email = SesEmail(
                self._client("ses"),
                self.settings.notification_email_sender,
                self.settings.notification_ses_configuration_set,
            )
        return DeliverySender(
            DeliveryMarks(self.dynamodb, self.settings.idempotency_table_name, self.clock),
            self.notification_settings_store,
            self.notification_secrets,
            telegram,
            email,
            self.clock,
        )

    # ------------------------------------------------------------------ live feed

    @property
    def feed_configured(self) -> bool:
        return self._feed_directory is not None or self.settings.feed_connections_table_name is not None

    @cached_property
    def feed_connections(self) -> ConnectionDirectory:
        """The WebSocket API's connections table (or the directory of a process that holds its
        connections itself)."""
        from shared_utils.errors import ConfigurationError
        from shared_utils.feed.connections import ConnectionStore

        if self._feed_directory is not None:
            return self._feed_directory
        if self.settings.feed_connections_table_name is None:
            raise ConfigurationError("FEED_CONNECTIONS_TABLE_NAME is not set: this platform has no live feed")
        return ConnectionStore(self.dynamodb, self.settings.feed_connections_table_name)

    @cached_property
    def feed_broadcaster(self) -> Broadcaster:
        """Messages go over the WebSocket API's management endpoint (or the process's own
        WebSocket server): short timeouts and no retries, a late message is worth nothing."""
        from shared_utils.errors import ConfigurationError
        from shared_utils.feed.api_gateway import ApiGatewaySender
        from shared_utils.feed.broadcaster import Broadcaster

        sender = self._feed_sender
        if sender is None:
            if not self.settings.feed_endpoint_url:
                raise ConfigurationError("FEED_ENDPOINT_URL is not set: the broadcaster has nowhere to send")
            from botocore.config import Config

            config = Config(
                connect_timeout=2, read_timeout=2, retries={"max_attempts": 1, "mode": "standard"}
            )
            client = self._client(
                "apigatewaymanagementapi", endpoint_url=self.settings.feed_endpoint_url, config=config
            )
            sender = ApiGatewaySender(client)
        return Broadcaster(self.feed_connections, sender, self.clock)

    def feed_changes(self, records: Iterable[dict[str, Any]]) -> BroadcastReport:
        return self.feed_broadcaster.changes(
            records, self.settings.history_table_name, self.settings.broker_accounts_table_name
        )

    def feed_marks(self) -> BroadcastReport:
        """Each connected user's marks; nothing where this platform has no feed configured (a
        test's settings: no connections table)."""
        from shared_utils.feed.broadcaster import BroadcastReport

        if not self.feed_configured:
            return BroadcastReport()
        return self.feed_broadcaster.marks(self.execution_store.open_positions, self.option_market)

    def announce_quotes_refreshed(self, envelope: TimerEnvelope) -> None:
        """Tell the feed the minute's quotes are stored (it re-marks open positions). A failure
        is logged and counted, never the refresh's: the quotes are stored and priced either way."""
        from aws_lambda_powertools import Logger
        from botocore.exceptions import BotoCoreError, ClientError

        from shared_utils.events.catalog import DetailType
        from shared_utils.timer.envelope import TimerEvent
        from shared_utils.timer.publisher import PublishError

        try:
            (self.announcer or self.publisher()).publish(
                [TimerEvent(detail_type=DetailType.QUOTES_REFRESHED, envelope=envelope)]
            )
        except (PublishError, ClientError, BotoCoreError):
            Logger(child=True).exception("QuotesRefreshed not published: the feed's marks wait a minute")

    @cached_property
    def feed_verifier(self) -> CognitoTokenVerifier:
        """The $connect authorizer's check of the user's Cognito ID token."""
        import boto3

        from shared_utils.errors import ConfigurationError
        from shared_utils.feed.authorizer import CognitoTokenVerifier, issuer

        pool, client_id = self.settings.cognito_user_pool_id, self.settings.cognito_app_client_id
        if not pool or not client_id:
            raise ConfigurationError(
                "COGNITO_USER_POOL_ID and COGNITO_APP_CLIENT_ID must be set for the feed"
            )
        region = pool.split("_", 1)[0] if "_" in pool else boto3.session.Session().region_name
        return CognitoTokenVerifier(issuer(str(region), pool), client_id, self.settings.cognito_jwks_url)

    @cached_property
    def secrets(self) -> SecretsProvider:
        """One provider per process: its cache is what keeps a warm container from asking
        Secrets Manager every minute."""
        from aws_lambda_powertools.utilities import parameters

        return parameters.SecretsProvider(boto3_client=self.secretsmanager)


_installed: Platform | None = None


def platform() -> Platform:
    """This process's root: the installed one, else one built from the environment and the
    system clock (a Lambda cold start; a missing variable fails it loudly)."""
    global _installed
    if _installed is None:
        _installed = Platform(load_settings(), SystemClock())
    return _installed


def installed() -> Platform | None:
    """The installed root, without building one (None in a process that has none yet)."""
    return _installed


def install(root: Platform | None) -> Platform | None:
    """Make `root` this process's platform (None: build from the environment on next use);
    returns the one it replaces, so a test can put it back."""
    global _installed
    previous, _installed = _installed, root
    return previous
