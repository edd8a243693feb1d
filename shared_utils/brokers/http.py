"""One HTTP session type for every SDK-backed adapter: the place where transport outcomes become
broker errors, so each adapter only maps its SDK's answers.

- connect failure / DNS / connect timeout -> `BrokerUnavailableError(order_may_exist=False)`
- read timeout, or the connection dropped after the request went out, or HTTP 504
  -> `BrokerTimeoutError` (outcome unknown)
- HTTP 429 -> `BrokerRateLimitedError`; other 5xx -> `BrokerUnavailableError(order_may_exist=True)`
The session also enforces its own timeout whatever the SDK passes (NorenApi passes none).
Nothing here logs request headers or bodies: they carry tokens.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from shared_utils.brokers.port import BrokerRateLimitedError, BrokerTimeoutError, BrokerUnavailableError

DEFAULT_TIMEOUT_S = 7.0


def _never_sent(error: BaseException) -> bool:
    """Did the connection fail before any byte of the request left?"""
    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, NewConnectionError | NameResolutionError | ConnectTimeoutError):
            return True
        stack.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return False


class BrokerHttpSession(requests.Session):
    def __init__(self, broker: str, timeout_s: float = DEFAULT_TIMEOUT_S, pool_size: int = 10) -> None:
        super().__init__()
        self.broker = broker
        self.timeout_s = timeout_s
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["timeout"] = self.timeout_s
        try:
            response = super().request(str(method), str(url), *args, **kwargs)
        except requests.exceptions.ConnectTimeout as error:
            raise BrokerUnavailableError(
                message=f"{self.broker}: connect timeout", broker=self.broker, order_may_exist=False
            ) from error
        except requests.exceptions.Timeout as error:
            raise BrokerTimeoutError(
                message=f"{self.broker}: no answer in {self.timeout_s}s", broker=self.broker
            ) from error
        except requests.exceptions.ConnectionError as error:
            if _never_sent(error):
                raise BrokerUnavailableError(
                    message=f"{self.broker}: cannot connect", broker=self.broker, order_may_exist=False
                ) from error
            raise BrokerTimeoutError(
                message=f"{self.broker}: connection lost before the answer", broker=self.broker
            ) from error
        status = response.status_code
        if status == 429:
            raise BrokerRateLimitedError(message=f"{self.broker}: HTTP 429", broker=self.broker)
        if status == 504:
            raise BrokerTimeoutError(message=f"{self.broker}: HTTP 504", broker=self.broker)
        if status >= 500:
            raise BrokerUnavailableError(
                message=f"{self.broker}: HTTP {status}", broker=self.broker, order_may_exist=True
            )
        return response
