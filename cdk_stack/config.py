"""Per-environment stack configuration, read from `environments.json` and validated once.

Every deploy-time choice that differs between dev, staging and production lives in that file;
the constructs receive an `EnvironmentConfig` and never read files or context themselves.
Errors are `ConfigError`s whose message names the file, the environment and the key, so the
CLI can print them without a stack trace.

Two values are deployment inputs (`DEPLOYMENT_INPUTS`): the operators' alarm e-mail addresses
and the web app's CORS origins. The repository holds no real ones, so staging and production
leave them empty in the file and the deployer gives them as CDK context (`-c alarm_emails=...
-c cors_allowed_origins=...`, which `deploy.sh --alarm-email/--cors-origin` passes); a context
value replaces the file's. Staging and production refuse to load without them, and no
environment accepts a reserved placeholder domain (example.com, .test, ...) for either.
The project (`deploy.sh -p`, context `project`) names the stack: `stack_name`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from ipaddress import IPv4Address, ip_address
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared_utils.brokers.egress import GROUP_ID_PATTERN, MEMBER_PATTERN
from shared_utils.settings import MarketDataSourceName

ENVIRONMENTS_FILE = Path(__file__).resolve().parent / "environments.json"

# CloudWatch Logs accepts only these retention periods (days).
VALID_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)


class ConfigError(Exception):
    """Invalid or missing configuration; the message is meant for the person running the CLI."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiThrottling(_Strict):
    rate_limit: float = Field(gt=0)
    burst_limit: int = Field(gt=0)


class TimerWindow(_Strict):
    """When the master timer starts on a trading day (the state machine ends itself at close)."""

    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    weekdays: str = Field(pattern=r"^[A-Z]{3}(-[A-Z]{3})?(,[A-Z]{3}(-[A-Z]{3})?)*$")
    time_zone: str = Field(min_length=1)

    @property
    def hour(self) -> int:
        return int(self.start.split(":")[0])

    @property
    def minute(self) -> int:
        return int(self.start.split(":")[1])


class AuthStackExports(_Strict):
    """CloudFormation export names published by the separately deployed auth stack.

    `broker_accounts_stream`: the broker-accounts table's stream ARN (the live feed reads it; its
    view must be the one `shared_utils.tables.BROKER_ACCOUNTS` declares). `user_pool_domain_url`:
    the hosted UI's base URL, `https://{prefix}.auth.{region}.amazoncognito.com` or a custom
    domain's, without a trailing slash. `console_client_id`: the pool's public app client of the
    trader console (authorization code grant with PKCE, no secret), whose callback and logout URLs
    must list this stack's `ConsoleUrl`; the feed's authorizer accepts ID tokens issued to that
    client only."""

    user_pool_id: str = Field(min_length=1)
    broker_accounts_table: str = Field(min_length=1)
    broker_accounts_stream: str = Field(min_length=1)
    api_gateway_id: str = Field(min_length=1)
    user_pool_domain_url: str = Field(min_length=1)
    console_client_id: str = Field(min_length=1)


class BrokerEgressVpc(_Strict):
    """Where broker-calling functions run: outside any VPC, or behind NAT gateways with Elastic IPs.

    SEBI's retail-algo rules require API orders from a static IP registered with the broker, and
    the NAT gateways' Elastic IPs are those addresses. `eip_allocation_ids` takes addresses
    allocated outside the stack (already registered), so replacing the stack keeps them.
    """

    enabled: bool
    cidr: str = Field(default="10.40.0.0/16", pattern=r"^\d{1,3}(\.\d{1,3}){3}/(1[6-9]|2[0-4])$")
    max_azs: int = Field(default=2, ge=1, le=3)
    nat_gateways: int = Field(default=1, ge=1, le=3)
    eip_allocation_ids: tuple[str, ...] = ()

    @field_validator("eip_allocation_ids")
    @classmethod
    def _allocation_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for allocation_id in value:
            if not re.fullmatch(r"eipalloc-[0-9a-f]{8,17}", allocation_id):
                raise ValueError(f"{allocation_id!r} is not an Elastic IP allocation id (eipalloc-...)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> BrokerEgressVpc:
        if self.nat_gateways > self.max_azs:
            raise ValueError("nat_gateways cannot exceed max_azs (one NAT gateway per zone at most)")
        if self.eip_allocation_ids and len(self.eip_allocation_ids) != self.nat_gateways:
            raise ValueError("eip_allocation_ids needs exactly one allocation id per NAT gateway")
        return self


class StrategyRuns(_Strict):
    """The executor's event source mapping on the strategy-run queue.

    `max_concurrency`: executors at once (the mapping's MaximumConcurrency, 2-1000); README
    "Scaling" works out how many the environment's strategies due in one minute need.
    `batch_size`: messages per invocation, run one after another (1: every run starts at once)."""

    max_concurrency: int = Field(ge=2, le=1000)
    batch_size: int = Field(default=1, ge=1, le=10)


SymbolBookBroker = Literal["ANGEL_ONE", "FINVASIA", "UPSTOX", "DHAN"]


class MarketData(_Strict):
    """Where the minute's quotes come from. `simulated` is the local platform's and dev's source;
    staging and production refuse it unless `allow_simulated` says so in their own entry: a
    deployed environment never prices real orders from a simulation by accident."""

    source: MarketDataSourceName
    allow_simulated: bool = False
    # Brokers whose instrument master the morning keeps as a symbol book, so their orders carry
    # the listed symbol and token (Angel One and Shoonya address contracts by token only). The
    # source's own broker (Kite: Zerodha) is kept from the listing's download.
    symbol_books: tuple[SymbolBookBroker, ...] = ()


ClientEgressInstanceType = Literal[
    "t4g.nano", "t4g.micro", "t4g.small", "t4g.medium", "t4g.large", "t4g.xlarge", "t4g.2xlarge"
]


class ClientEgressGroup(_Strict):
    """One client, or one client's immediate family (spouse, dependent children, dependent
    parents may share an address), and the static IP they register with their brokers.

    `members`: user ids (all of that user's broker accounts) or `user_id/broker_account_id`
    (that account only). `eip_allocation_id` + `public_ip`: an address allocated outside the stack
    (already registered; brokers allow one change a week), kept across a stack replacement."""

    id: str = Field(pattern=GROUP_ID_PATTERN)
    members: tuple[str, ...] = Field(min_length=1)
    eip_allocation_id: str | None = Field(default=None, pattern=r"^eipalloc-[0-9a-f]{8,17}$")
    public_ip: IPv4Address | None = None

    @field_validator("members")
    @classmethod
    def _members(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for member in value:
            if not re.fullmatch(MEMBER_PATTERN, member):
                raise ValueError(f"{member!r} is neither a user id nor user_id/broker_account_id")
        return value

    @model_validator(mode="after")
    def _allocation_and_address(self) -> ClientEgressGroup:
        if (self.eip_allocation_id is None) != (self.public_ip is None):
            raise ValueError("eip_allocation_id and public_ip go together (the allocation's address)")
        return self

    @property
    def output_name(self) -> str:
        """`client-a` -> `ClientA`: the group's part of CloudFormation logical ids."""
        return "".join(part[:1].upper() + part[1:] for part in self.id.split("-"))


class ClientEgressConfig(_Strict):
    """A static IP per client group (`cdk_stack.egress.ClientEgress`): an Elastic IP each, on
    proxy instances of `instance_type`; group n's proxy listens on `first_port + n`."""

    instance_type: ClientEgressInstanceType = "t4g.small"
    first_port: int = Field(default=8401, ge=1024, le=60000)
    groups: tuple[ClientEgressGroup, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unambiguous(self) -> ClientEgressConfig:
        ids: set[str] = set()
        names: set[str] = set()
        owner: dict[str, str] = {}
        for group in self.groups:
            if group.id in ids or group.output_name in names:
                raise ValueError(f"group {group.id!r} appears twice (or names the same outputs as another)")
            ids.add(group.id)
            names.add(group.output_name)
            for member in group.members:
                other = owner.setdefault(member, group.id)
                if other != group.id:
                    raise ValueError(f"{member!r} is in groups {other!r} and {group.id!r}: one address each")
        if self.first_port + len(self.groups) > 65536:
            raise ValueError("first_port leaves no port for every group")
        return self


REAL_MONEY_ENVIRONMENTS = ("staging", "production")

# The project names the stack (`deploy.sh -p`); this one is the name every resource carries.
DEFAULT_PROJECT = "ql-algo-trading"
_PROJECT = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}")

# Set at deploy time (CDK context) rather than in the repository; see the module docstring.
DEPLOYMENT_INPUTS = ("alarm_emails", "cors_allowed_origins")
_HOW_TO_SET = {
    "alarm_emails": "the operators' addresses every alarm is mailed to: `./deploy.sh ... --alarm-email "
    "ADDRESS` (repeatable), i.e. `cdk deploy -c alarm_emails=a@your-domain,b@your-domain`, or "
    "`alarm_emails` in environments.json",
    "cors_allowed_origins": "the web app's origin(s), https://host[:port]: `./deploy.sh ... "
    "--cors-origin ORIGIN` (repeatable), i.e. `cdk deploy -c cors_allowed_origins=https://app.your-domain`, "
    "or `cors_allowed_origins` in environments.json",
}
# RFC 2606 / RFC 6761 names: documentation and test placeholders that reach nobody.
_PLACEHOLDER_DOMAINS = ("example.com", "example.net", "example.org")
_PLACEHOLDER_TLDS = ("example", "test", "invalid", "localhost", "local")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@((?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,})")
_ORIGIN = re.compile(r"(https?)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::(\d{1,5}))?")


def stack_name(environment: str, project: str = DEFAULT_PROJECT) -> str:
    """The stack's name and the CDK app's stack id: what `cdk deploy NAME` selects."""
    return f"{project}-{environment}-options-trading-stack"


def check_project(project: str) -> str:
    """A project name usable in a CloudFormation stack name; `ConfigError` otherwise."""
    if not _PROJECT.fullmatch(project):
        raise ConfigError(
            f"project {project!r} must start with a letter and hold only letters, digits and dashes "
            "(at most 64): it is part of the stack name"
        )
    return project


def is_placeholder_host(host: str) -> bool:
    """A reserved documentation/test name, localhost, or a loopback/private address."""
    host = host.lower().strip("[]").rstrip(".")
    try:
        address = ip_address(host)
    except ValueError:
        labels = host.split(".")
        return labels[-1] in _PLACEHOLDER_TLDS or any(
            host == domain or host.endswith(f".{domain}") for domain in _PLACEHOLDER_DOMAINS
        )
    return address.is_loopback or address.is_private or address.is_unspecified


def inputs_from_context(context: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The deployment inputs present in CDK context: comma-separated strings (as `-c key=a,b`
    gives them) or lists of strings, blanks dropped."""
    inputs: dict[str, tuple[str, ...]] = {}
    for key in DEPLOYMENT_INPUTS:
        value = context.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            items = value.split(",")
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            items = value
        else:
            raise ConfigError(f"context value {key!r} must be a comma-separated string of values")
        inputs[key] = tuple(item.strip() for item in items if item.strip())
    return inputs


class EnvironmentConfig(_Strict):
    name: str
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    log_retention_days: int
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    removal_policy: Literal["destroy", "retain"]
    point_in_time_recovery: bool
    api_throttling: ApiThrottling
    # Deployment inputs (DEPLOYMENT_INPUTS): required in staging and production.
    cors_allowed_origins: tuple[str, ...] = Field(default=(), validate_default=True)
    alarm_emails: tuple[str, ...] = Field(default=(), validate_default=True)
    schedule_shards: int = Field(ge=1, le=100)
    # Intraday (MIS) positions are squared off this long before the session's close (brokers'
    # own auto square-off starts around 15:20-15:25 IST: ours must come first).
    square_off_minutes_before_close: int = Field(default=10, ge=5, le=60)
    strategy_runs: StrategyRuns
    timer_window: TimerWindow
    auth_stack_exports: AuthStackExports | None
    broker_egress_vpc: BrokerEgressVpc
    market_data: MarketData
    # The exchange-registered algo id sent on every order where the broker takes one; unset until
    # the algo is registered (then orders go as an unregistered algo, within 10 a second).
    algo_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    # A static IP per client (group): the SEBI rule's one address per client. None: every broker
    # call leaves through `broker_egress_vpc`'s shared NAT address(es).
    client_egress: ClientEgressConfig | None = None
    # The address trade notifications are e-mailed from (an SES identity the stack creates; AWS
    # mails it a verification link on deployment). None: no e-mail channel in this environment
    # (Telegram and the console's feed only). docs/notifications.md.
    notification_email_sender: str | None = Field(default=None, max_length=254)

    @field_validator("notification_email_sender")
    @classmethod
    def _real_sender(cls, value: str | None) -> str | None:
        if value is None:
            return value
        match = _EMAIL.fullmatch(value)
        if match is None:
            raise ValueError(f"{value!r} is not an e-mail address")
        if is_placeholder_host(match.group(1)):
            raise ValueError(f"{value!r} is at a placeholder domain: SES cannot send from it")
        return value

    @model_validator(mode="after")
    def _client_egress_in_the_vpc(self) -> EnvironmentConfig:
        if self.client_egress is not None and not self.broker_egress_vpc.enabled:
            raise ValueError(
                "client_egress needs broker_egress_vpc.enabled: the broker-calling functions reach "
                "the egress proxies by their private addresses"
            )
        return self

    @model_validator(mode="after")
    def _no_simulated_market_by_accident(self) -> EnvironmentConfig:
        simulated = self.market_data.source is MarketDataSourceName.SIMULATED
        if simulated and self.name in REAL_MONEY_ENVIRONMENTS and not self.market_data.allow_simulated:
            raise ValueError(
                f"market_data.source is simulated in {self.name}: set market_data.allow_simulated to "
                "true to price from a simulation here on purpose, or choose a real source"
            )
        return self

    @field_validator("cors_allowed_origins")
    @classmethod
    def _real_origins(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        real_money = info.data.get("name") in REAL_MONEY_ENVIRONMENTS
        _required("cors_allowed_origins", value, info)
        for origin in value:
            match = _ORIGIN.fullmatch(origin)
            if match is None:
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], no path or slash)")
            if not real_money:
                continue
            if match.group(1) != "https":
                raise ValueError(f"{origin!r} is not https: a browser reaches {info.data['name']} over TLS")
            if is_placeholder_host(match.group(2)):
                raise ValueError(
                    f"{origin!r} is a placeholder or local origin; {info.data['name']} needs the real "
                    f"one: {_HOW_TO_SET['cors_allowed_origins']}"
                )
        return value

    @field_validator("alarm_emails")
    @classmethod
    def _real_addresses(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        _required("alarm_emails", value, info)
        for address in value:
            match = _EMAIL.fullmatch(address)
            if match is None:
                raise ValueError(f"{address!r} is not an e-mail address")
            if is_placeholder_host(match.group(1)):
                raise ValueError(f"{address!r} is at a placeholder domain: no operator would read it")
        if len({address.lower() for address in value}) != len(value):
            raise ValueError("an address appears twice")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _known_retention(cls, value: int) -> int:
        if value not in VALID_RETENTION_DAYS:
            raise ValueError(f"{value} is not a CloudWatch Logs retention period")
        return value

    @field_validator("name")
    @classmethod
    def _name_is_resource_safe(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9]{1,15}", value):
            raise ValueError("must be lowercase letters and digits (it is part of resource names)")
        return value

    @property
    def cross_stack_auth(self) -> bool:
        return self.auth_stack_exports is not None


def _required(key: str, value: tuple[str, ...], info: ValidationInfo) -> None:
    """Staging and production need both inputs; every environment needs an origin (dev's is the
    local web app's)."""
    name = info.data.get("name")
    if not value and (name in REAL_MONEY_ENVIRONMENTS or key == "cors_allowed_origins"):
        raise ValueError(f"{key} is empty in {name}: set {_HOW_TO_SET[key]}")


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(raw, dict) or not all(isinstance(value, dict) for value in raw.values()):
        raise ConfigError(f"{path}: expected an object mapping environment names to objects")
    return raw


def environment_names(path: Path = ENVIRONMENTS_FILE) -> list[str]:
    return sorted(_read(path))


def load_environment(
    name: str, path: Path = ENVIRONMENTS_FILE, *, inputs: Mapping[str, Any] | None = None
) -> EnvironmentConfig:
    """The validated configuration of one environment, or a `ConfigError` naming what is wrong.

    `inputs`: deployment inputs (`inputs_from_context`), each replacing the file's value."""
    environments = _read(path)
    if name not in environments:
        valid = ", ".join(sorted(environments))
        raise ConfigError(f"unknown environment {name!r} in {path}; valid environments: {valid}")
    unknown = set(inputs or {}) - set(DEPLOYMENT_INPUTS)
    if unknown:
        raise ConfigError(f"not deployment inputs: {', '.join(sorted(unknown))}")
    try:
        return EnvironmentConfig.model_validate({**environments[name], **(inputs or {}), "name": name})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, name, path)) from exc


def _describe(exc: ValidationError, name: str, path: Path) -> str:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "missing":
            problems.append(f"missing key {key!r}")
        elif error["type"] == "extra_forbidden":
            problems.append(f"unknown key {key!r}")
        else:
            problems.append(f"key {key!r}: {error['msg'].removeprefix('Value error, ')}")
    return f"{path}: environment {name!r}: " + "; ".join(problems)
