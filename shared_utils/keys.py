"""Every DynamoDB key string of the platform, built here and nowhere else.

The trading-configurations table is a single table: one user's items share a partition
(`USER#{user_id}`), two overloaded indexes answer the cross-item questions:

- GSI1 (AllocationsByStrategy): `gsi1pk = STRATEGY#{id}` or `BASKET#{id}`. A strategy partition
  holds its broker allocations; a basket partition holds the basket item itself, its default
  allocations and its strategies, so "a basket with all its strategies" is one query.
- GSI2 (UserExecutionSchedule): `gsi2pk = SCHEDULE#{shard}`, `gsi2sk = {HHMM}#{ENTRY|EXIT}#...`
  with HHMM in UTC, so "every execution due between t1 and t2" is one `between` per shard.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from enum import StrEnum

SEPARATOR = "#"

USER_PREFIX = "USER#"
BASKET_PREFIX = "BASKET#"
STRATEGY_PREFIX = "STRATEGY#"
ALLOCATION_PREFIX = "BROKER_ALLOCATION#"
SCHEDULE_PREFIX = "SCHEDULE#"
SUBSCRIPTION_PREFIX = "SUBSCRIPTION#"
GSI1_ALLOCATION_PREFIX = "ALLOCATION#"
# Sorts before "ALLOCATION#" and "STRATEGY#": the basket item comes first in its GSI1 partition.
GSI1_BASKET_SELF = "#BASKET"

# Market calendar: admins' changes to the shipped holiday data, one item per exchange and day.
CALENDAR_CHANGES_PK = "MARKET#CALENDAR"
CALENDAR_CHANGE_PREFIX = "CHANGE#"


class ScheduleKind(StrEnum):
    """A schedule entry's kind and the action of the run it starts: ENTRY opens the strategy's
    legs, EXIT closes what is open (a run closing one leg is an EXIT too, named LEGSL{n})."""

    ENTRY = "ENTRY"
    EXIT = "EXIT"


def user_pk(user_id: str) -> str:
    return f"{USER_PREFIX}{user_id}"


def basket_sk(basket_id: str) -> str:
    return f"{BASKET_PREFIX}{basket_id}"


def strategy_sk(strategy_id: str) -> str:
    return f"{STRATEGY_PREFIX}{strategy_id}"


def allocation_sk(allocation_id: str) -> str:
    return f"{ALLOCATION_PREFIX}{allocation_id}"


def schedule_sk(strategy_id: str, kind: ScheduleKind) -> str:
    return f"{SCHEDULE_PREFIX}{strategy_id}{SEPARATOR}{kind.value}"


def subscription_sk(basket_id: str) -> str:
    return f"{SUBSCRIPTION_PREFIX}{basket_id}"


# The user's portfolio rules across all of the day's strategies (one item per user).
RISK_SETTINGS_SK = "RISK_SETTINGS"
# The user's notification preferences (one item per user), also in GSI1's one partition of every
# user's preferences (`gsi1sk` = user id): the platform-wide kill switch reaches whoever wants it.
NOTIFICATION_SETTINGS_SK = "NOTIFICATION_SETTINGS"
NOTIFICATION_SETTINGS_GSI1PK = "NOTIFICATION_SETTINGS"
# GSI2 (sparse): an admin's preferences with `platform_alarms` on also carry
#   `gsi2pk = PLATFORM_ALARMS`, `gsi2sk` = user id: the platform alarms' audience is one query.
PLATFORM_ALARMS_GSI2PK = "PLATFORM_ALARMS"
# A notification's delivery mark in the idempotency table (`id`), by its dedupe key.
NOTIFICATION_MARK_PREFIX = "NOTIFICATION#"


def notification_mark_id(dedupe_key: str) -> str:
    return f"{NOTIFICATION_MARK_PREFIX}{dedupe_key}"


def calendar_change_sk(exchange: str, day: date) -> str:
    return f"{CALENDAR_CHANGE_PREFIX}{exchange}{SEPARATOR}{day.isoformat()}"


# --- GSI1: allocations by strategy / basket, and a basket's strategies -------------------------


def strategy_gsi1pk(strategy_id: str) -> str:
    return f"{STRATEGY_PREFIX}{strategy_id}"


def basket_gsi1pk(basket_id: str) -> str:
    return f"{BASKET_PREFIX}{basket_id}"


def allocation_gsi1sk(broker: str, allocation_id: str) -> str:
    return f"{GSI1_ALLOCATION_PREFIX}{broker}{SEPARATOR}{allocation_id}"


def basket_member_gsi1sk(strategy_id: str) -> str:
    """A strategy's sort key inside its basket's GSI1 partition."""
    return f"{STRATEGY_PREFIX}{strategy_id}"


# --- GSI2: the execution schedule ---------------------------------------------------------------


def schedule_shard(user_id: str, strategy_id: str, shards: int) -> int:
    """Stable shard of a strategy's schedule entries (same on every process and Python version)."""
    if shards < 1:
        raise ValueError("shards must be >= 1")
    digest = hashlib.sha256(f"{user_id}{SEPARATOR}{strategy_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards


def schedule_gsi2pk(shard: int) -> str:
    return f"{SCHEDULE_PREFIX}{shard}"


def schedule_gsi2sk(hhmm_utc: str, kind: ScheduleKind, user_id: str, strategy_id: str) -> str:
    return SEPARATOR.join((hhmm_utc, kind.value, user_id, strategy_id))


def schedule_gsi2sk_bounds(first_hhmm_utc: str, last_hhmm_utc: str) -> tuple[str, str]:
    """Inclusive `between` bounds covering every entry from the first to the last minute."""
    return f"{first_hhmm_utc}{SEPARATOR}", f"{last_hhmm_utc}{SEPARATOR}~"


# --- Master timer (owned by the timer): trigger claims and the market-data cache --------------
# Items of the trading-configurations table that expire through its TTL attribute.

TRIGGER_CLAIM_PREFIX = "TRIGGER_CLAIM#"
MARKET_QUOTE_PREFIX = "MARKET_QUOTE#"
MARKET_QUOTE_SK = "LATEST"


def trigger_claim_pk(trade_date: date) -> str:
    return f"{TRIGGER_CLAIM_PREFIX}{trade_date.isoformat()}"


def trigger_claim_sk(user_id: str, strategy_id: str, kind: ScheduleKind, scheduled_hhmm_utc: str) -> str:
    """One claim per (trade date, strategy, action, scheduled time): whichever trigger window
    writes it first hands the execution over; every other window sees it taken."""
    return SEPARATOR.join((strategy_id, kind.value, scheduled_hhmm_utc, user_id))


# The exchange's listing as last accepted (sk CURRENT), and each trade date's accepted listing.
INSTRUMENT_LISTING_PK = "INSTRUMENT_LISTING"
INSTRUMENT_LISTING_CURRENT_SK = "CURRENT"


# Each broker's symbol book: the contracts its instrument master lists, one item per index and
# expiry (sk `{underlying}#{expiry}`), and a header (sk CURRENT) naming the kept expiries.
SYMBOL_BOOK_PREFIX = "SYMBOL_BOOK#"
SYMBOL_BOOK_HEADER_SK = "CURRENT"


def symbol_book_pk(broker: str) -> str:
    return f"{SYMBOL_BOOK_PREFIX}{broker}"


def symbol_book_sk(underlying: str, expiry: date) -> str:
    return f"{underlying}{SEPARATOR}{expiry.isoformat()}"


def market_quote_pk(instrument: str) -> str:
    """An index level's item (sk MARKET_QUOTE_SK)."""
    return f"{MARKET_QUOTE_PREFIX}{instrument}"


def market_chain_pk(underlying: str, expiry: date) -> str:
    """The partition of one expiry's contracts: a chain is one query."""
    return f"{MARKET_QUOTE_PREFIX}{underlying}{SEPARATOR}{expiry.isoformat()}"


def market_contract_sk(strike: str, option_type: str) -> str:
    return f"{strike}{SEPARATOR}{option_type}"


# --- Execution history (owned by the execution engine) -----------------------------------------
# Items of the execution-history table. A user's partition `USER#{user_id}` holds:
#   `{iso_timestamp}#{strategy_id}#{ENTRY|EXIT}`  execution records (sk sorts by time: ISO first)
#   `ORDER#{order_key}`                           the order ledger, written before a broker call
#   `RUN#{trade_date}#{strategy_id}#{action}`     the stored plan and history pointer of one run
#   `POSITION#{strategy_id}#{entry_date}#{account}#{leg_no}[#{cycle}]`  net position of one leg per
#                                                 account (a re-entry's own, with its cycle)
#   `ARMED#{trade_date}#{strategy_id}#{run_name}`  a re-entry or wait-and-trade leg waiting for its
#                                                 condition (on GSI1 `ARMED#{trade_date}` while armed)
#   `SIGNALS#{trade_date}#{strategy_id}`          the day's signal numbers: issued, and the highest run
#   `KILL_SWITCH`                                 the user's kill switch
#   `KILL_SWITCH#OPERATION`                       progress of the latest press (also under the global pk)
#   `LEASE#{strategy_id}`                         the strategy's single-writer lease (while a run works)
#   `MISMATCH#{trade_date}#{account}`             broker positions differing from the ledger (latest check)
#   `PORTFOLIO#{trade_date}#{USER|BASKET#{id}}`   a portfolio scope's day: trailing peak, exit marker
# GSI1 (ExecutionsByStrategy) is overloaded: `STRATEGY#{id}` for records, `LEDGER#{trade_date}`
# for ledger entries (duplicate scan), `POSITIONS#OPEN#{shard}` (sparse) for open positions,
# `ARMED#{trade_date}` for the day's armed entries, read by the minute's tick.

LEDGER_SK_PREFIX = "ORDER#"
RUN_SK_PREFIX = "RUN#"
POSITION_SK_PREFIX = "POSITION#"
KILL_SWITCH_SK = "KILL_SWITCH"
KILL_OPERATION_SK = "KILL_SWITCH#OPERATION"
GLOBAL_KILL_SWITCH_PK = "KILL_SWITCH#GLOBAL"
LEDGER_GSI1_PREFIX = "LEDGER#"
OPEN_POSITIONS_GSI1PK = "POSITIONS#OPEN"
# A fixed fact, not a setting: changing it would strand open positions in partitions nobody reads.
OPEN_POSITIONS_SHARDS = 4
TRAIL_SK_PREFIX = "TRAIL#"
LEASE_SK_PREFIX = "LEASE#"
MISMATCH_SK_PREFIX = "MISMATCH#"
ARMED_PREFIX = "ARMED#"
SIGNALS_PREFIX = "SIGNALS#"


def execution_record_sk(started_at_iso: str, strategy_id: str, action: str) -> str:
    return SEPARATOR.join((started_at_iso, strategy_id, action))


def execution_record_gsi1sk(started_at_iso: str, action: str) -> str:
    return SEPARATOR.join((started_at_iso, action))


def ledger_sk(order_key: str) -> str:
    return f"{LEDGER_SK_PREFIX}{order_key}"


def ledger_gsi1pk(trade_date: date) -> str:
    return f"{LEDGER_GSI1_PREFIX}{trade_date.isoformat()}"


def ledger_gsi1sk(created_at_iso: str, order_key: str) -> str:
    return SEPARATOR.join((created_at_iso, order_key))


def ledger_run_prefix(trade_date: date, strategy_id: str, action: str) -> str:
    """Ledger sort-key prefix of every order of one run (`begins_with`)."""
    return f"{LEDGER_SK_PREFIX}{trade_date.isoformat()}{SEPARATOR}{strategy_id}{SEPARATOR}{action}{SEPARATOR}"


def ledger_user_day_prefix(trade_date: date) -> str:
    """Ledger sort-key prefix of every order of one user's trade date, all strategies."""
    return f"{LEDGER_SK_PREFIX}{trade_date.isoformat()}{SEPARATOR}"


def ledger_day_prefix(trade_date: date, strategy_id: str) -> str:
    return f"{LEDGER_SK_PREFIX}{trade_date.isoformat()}{SEPARATOR}{strategy_id}{SEPARATOR}"


def armed_sk(trade_date: date, strategy_id: str, run_name: str) -> str:
    return SEPARATOR.join((f"{ARMED_PREFIX}{trade_date.isoformat()}", strategy_id, run_name))


def signals_sk(trade_date: date, strategy_id: str) -> str:
    """A strategy's signals of the day: the numbers issued and the highest one run."""
    return SEPARATOR.join((f"{SIGNALS_PREFIX}{trade_date.isoformat()}", strategy_id))


def armed_gsi1pk(trade_date: date) -> str:
    return f"{ARMED_PREFIX}{trade_date.isoformat()}"


def run_sk(trade_date: date, strategy_id: str, action: str) -> str:
    return SEPARATOR.join((f"{RUN_SK_PREFIX}{trade_date.isoformat()}", strategy_id, action))


def position_sk(
    strategy_id: str, entry_date: date, broker_account_id: str, leg_no: int, cycle: str = ""
) -> str:
    """`cycle`: the re-entry the position belongs to ("" for the day's first entry), so a leg entered
    again that day (at the same or a fresh strike) has its own position and average price."""
    parts = [f"{POSITION_SK_PREFIX}{strategy_id}", entry_date.isoformat(), broker_account_id, str(leg_no)]
    return SEPARATOR.join([*parts, cycle] if cycle else parts)


def position_cycle(position_sk_: str) -> str:
    """The re-entry cycle of a position key ("" for the day's first entry)."""
    parts = position_sk_.split(SEPARATOR)
    return parts[5] if len(parts) > 5 else ""


def strategy_positions_prefix(strategy_id: str) -> str:
    return f"{POSITION_SK_PREFIX}{strategy_id}{SEPARATOR}"


def mismatch_sk(trade_date: date, broker_account_id: str) -> str:
    return f"{MISMATCH_SK_PREFIX}{trade_date.isoformat()}{SEPARATOR}{broker_account_id}"


def lease_sk(strategy_id: str) -> str:
    return f"{LEASE_SK_PREFIX}{strategy_id}"


def trail_sk(strategy_id: str, trade_date: date) -> str:
    return SEPARATOR.join((f"{TRAIL_SK_PREFIX}{strategy_id}", trade_date.isoformat()))


PORTFOLIO_SK_PREFIX = "PORTFOLIO#"
PORTFOLIO_USER_SCOPE = "USER"


def portfolio_day_prefix(trade_date: date) -> str:
    """Sort-key prefix of every portfolio item of one user's day (`begins_with`)."""
    return f"{PORTFOLIO_SK_PREFIX}{trade_date.isoformat()}{SEPARATOR}"


def portfolio_sk(trade_date: date, basket_id: str | None) -> str:
    """A portfolio scope's day (its trailing peak and its exit): the user's (`basket_id` None) or
    one basket's."""
    scope = f"{BASKET_PREFIX}{basket_id}" if basket_id else PORTFOLIO_USER_SCOPE
    return f"{portfolio_day_prefix(trade_date)}{scope}"


# --- Marketplace (owned by the marketplace) ----------------------------------------------------
# Trading-configurations items:
#   `MARKETPLACE#{basket_id}` / `LISTING`         a basket's marketplace listing (one per basket)
#   `USER#{user_id}` / `SUBSCRIPTION#{basket_id}` a user's subscription (sk built above)
# GSI2 (sparse): a PUBLISHED listing carries `gsi2pk = MARKETPLACE#LISTINGS` and
#   `gsi2sk = {rank}#{basket_id}`, rank = 9999999999 - subscriber count (10 digits), so one query
#   pages through the marketplace most-subscribed first.
# GSI1: a subscription carries `gsi1pk = SUBSCRIBERS#{basket_id}`, `gsi1sk = {status}#{user_id}`:
#   a basket's ACTIVE subscriptions are one `begins_with` query (plus pages) per due strategy.

LISTING_PK_PREFIX = "MARKETPLACE#"
LISTING_SK = "LISTING"
LISTINGS_GSI2PK = "MARKETPLACE#LISTINGS"
SUBSCRIBERS_GSI1_PREFIX = "SUBSCRIBERS#"
_RANK_DIGITS = 10
MAX_RANKED_SUBSCRIBERS = 10**_RANK_DIGITS - 1


def listing_pk(basket_id: str) -> str:
    return f"{LISTING_PK_PREFIX}{basket_id}"


def listing_gsi2sk(subscriber_count: int, basket_id: str) -> str:
    """Ascending order of this key is descending subscriber count (ties by basket id)."""
    if not 0 <= subscriber_count <= MAX_RANKED_SUBSCRIBERS:
        raise ValueError("subscriber count out of the ranked range")
    rank = MAX_RANKED_SUBSCRIBERS - subscriber_count
    return f"{rank:0{_RANK_DIGITS}d}{SEPARATOR}{basket_id}"


def subscribers_gsi1pk(basket_id: str) -> str:
    return f"{SUBSCRIBERS_GSI1_PREFIX}{basket_id}"


def subscriber_gsi1sk(status: str, user_id: str) -> str:
    return f"{status}{SEPARATOR}{user_id}"


def subscriber_status_prefix(status: str) -> str:
    return f"{status}{SEPARATOR}"


RETRY_GSI1_PREFIX = "RETRY#"


def retry_gsi1pk(trade_date: date) -> str:
    """Runs of `trade_date` left incomplete by a retryable failure (sparse, on the run item)."""
    return f"{RETRY_GSI1_PREFIX}{trade_date.isoformat()}"


def retry_gsi1sk(user_id: str, strategy_id: str, run_name: str) -> str:
    return SEPARATOR.join((user_id, strategy_id, run_name))


def open_positions_gsi1pk(user_id: str) -> str:
    """The sparse GSI1 partition of a user's open positions. Spread over OPEN_POSITIONS_SHARDS by
    user so thousands of entries in one minute do not all write (and the minute's check does not
    all read) one index partition; a user's positions stay together."""
    digest = hashlib.sha256(user_id.encode()).digest()
    return f"{OPEN_POSITIONS_GSI1PK}{SEPARATOR}{int.from_bytes(digest[:8], 'big') % OPEN_POSITIONS_SHARDS}"


def open_positions_partitions() -> list[str]:
    """Every partition holding open positions: the shards, then the unsharded partition that
    positions opened before sharding stay in until they close."""
    shards = [f"{OPEN_POSITIONS_GSI1PK}{SEPARATOR}{shard}" for shard in range(OPEN_POSITIONS_SHARDS)]
    return [*shards, OPEN_POSITIONS_GSI1PK]


# --- Shared broker guards (owned by the broker layer) ------------------------------------------
# Items that expire through the table's TTL attribute, shared by every container sending orders:
#   `ORDER_RATE#{scope}` / `WINDOWS`   the order-rate windows of one scope (client id + exchange)
#   `CIRCUIT#{account_id}` / `STATE`   a broker account's circuit breaker

ORDER_RATE_PREFIX = "ORDER_RATE#"
ORDER_RATE_SK = "WINDOWS"
CIRCUIT_PREFIX = "CIRCUIT#"
CIRCUIT_SK = "STATE"


def order_rate_pk(scope: str) -> str:
    """One item per scope: every window of the scope lives in it, so a send is one conditional write."""
    return f"{ORDER_RATE_PREFIX}{scope}"


def circuit_pk(account_id: str) -> str:
    return f"{CIRCUIT_PREFIX}{account_id}"


# --- Backtest jobs (owned by `shared_utils.backtest.job_store`; the backtest-jobs table) --------
# A user's partition `USER#{user_id}` holds:
#   `JOB#{backtest_id}`  one job; ids start with their creation instant, so the user's jobs newest
#                        first are one reverse `begins_with` query
#   `RUNNING`            the user's unfinished jobs with their deadlines: the running limit is one
#                        conditional write on it, in the transaction that adds or ends a job
# A job's files in the results bucket: `backtests/{user_id}/{backtest_id}/{result.json|report.html}`.

BACKTEST_JOB_PREFIX = "JOB#"
BACKTEST_RUNNING_SK = "RUNNING"
BACKTEST_OBJECT_PREFIX = "backtests/"


def backtest_job_sk(backtest_id: str) -> str:
    return f"{BACKTEST_JOB_PREFIX}{backtest_id}"


def backtest_object_key(user_id: str, backtest_id: str, name: str) -> str:
    return f"{BACKTEST_OBJECT_PREFIX}{user_id}/{backtest_id}/{name}"


# --- Signal webhooks (owned by `shared_utils.signals.store`; the trading-configurations table) ---
# The owner's partition `USER#{user_id}`:
#   `WEBHOOK#{webhook_id}`                      a webhook: strategy, action, format, mapping, and
#                                               the hashes of its URL token and shared secret
# `WEBHOOK_TOKEN#{sha256 of the token}` / `WEBHOOK_TOKEN`: a copy of the webhook found by a
#                                               request's token; written (and swapped on rotation)
#                                               in one transaction with the webhook
# The webhook's partition `WEBHOOK#{webhook_id}`, the only one the public endpoint writes
# (`dynamodb:LeadingKeys` in its role), items expiring through `expires_at`:
#   `SIGNAL#{signal_id}`                        a request received and what it caused (30 days);
#                                               ids start with the instant: newest first is one
#                                               reverse query
#   `REPLAY#{sha256 of the signal key}`         a signal seen: the same one again within the
#                                               replay window is ignored
#   `RATE#{YYYYmmddHHMM}`                       the minute's request count (UTC minute)

WEBHOOK_PREFIX = "WEBHOOK#"
WEBHOOK_TOKEN_PREFIX = "WEBHOOK_TOKEN#"
WEBHOOK_TOKEN_SK = "WEBHOOK_TOKEN"
WEBHOOK_SIGNAL_PREFIX = "SIGNAL#"
WEBHOOK_REPLAY_PREFIX = "REPLAY#"
WEBHOOK_RATE_PREFIX = "RATE#"


def webhook_sk(webhook_id: str) -> str:
    return f"{WEBHOOK_PREFIX}{webhook_id}"


def webhook_pk(webhook_id: str) -> str:
    """The webhook's own partition: its signals, replay marks and rate counters."""
    return f"{WEBHOOK_PREFIX}{webhook_id}"


def webhook_token_pk(token_hash: str) -> str:
    return f"{WEBHOOK_TOKEN_PREFIX}{token_hash}"


def webhook_signal_sk(signal_id: str) -> str:
    return f"{WEBHOOK_SIGNAL_PREFIX}{signal_id}"


def webhook_replay_sk(signal_key: str) -> str:
    return f"{WEBHOOK_REPLAY_PREFIX}{hashlib.sha256(signal_key.encode('utf-8')).hexdigest()}"


def webhook_rate_sk(minute: datetime) -> str:
    return f"{WEBHOOK_RATE_PREFIX}{minute.astimezone(UTC):%Y%m%d%H%M}"
