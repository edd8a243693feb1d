"""One HTTP session type for every SDK-backed adapter: the place where transport outcomes become
broker errors, so each adapter only maps its SDK's answers.

- connect failure / DNS / connect timeout -> `BrokerUnavailableError(order_may_exist=False)`
- read timeout, or the connection dropped after the request went out, or HTTP 504
  -> `BrokerTimeoutError` (outcome unknown)
- HTTP 429 -> `BrokerRateLimitedError`; other 5xx -> `BrokerUnavailableError(order_may_exist=True)`
The session also enforces its own timeout whatever the SDK passes (NorenApi passes none).
Nothing here logs request headers or bodies: they carry tokens.

With a `proxy_url` (a client's static-IP egress, `shared_utils.brokers.egress`) every request
goes through that forward proxy: HTTPS as a CONNECT tunnel (TLS stays end to end), and neither
an SDK's per-request `proxies` nor the environment's proxy variables (`NO_PROXY`) can route
around it. A proxy that cannot be reached, or that refuses the tunnel, means nothing reached the
broker: `BrokerUnavailableError(order_may_exist=False)`, never a retry from another address.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError, ProxyError

from shared_utils.brokers.port import BrokerRateLimitedError, BrokerTimeoutError, BrokerUnavailableError

DEFAULT_TIMEOUT_S = 7.0
# How http.client reports a proxy's refusal of a CONNECT (urllib3 re-raises it as is).
_TUNNEL_REFUSED = "Tunnel connection failed"


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
        # urllib3 raises ProxyError only before the connection to the proxy is made; a refused
        # CONNECT ends before any byte of the request is tunnelled.
        if isinstance(current, ProxyError) or (
            isinstance(current, OSError) and str(current).startswith(_TUNNEL_REFUSED)
        ):
            return True
        # `reason` is urllib3's wrapped error, but a string on ssl.SSLError.
        reason = getattr(current, "reason", None)
        stack.extend(
            [current.__cause__, current.__context__, reason if isinstance(reason, BaseException) else None]
        )
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return False


class BrokerHttpSession(requests.Session):
    def __init__(
        self,
        broker: str,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        pool_size: int = 10,
        proxy_url: str | None = None,
    ) -> None:
        super().__init__()
        self.broker = broker
        self.timeout_s = timeout_s
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self.proxy_url: str | None = None
        if proxy_url is not None:
            self.use_proxy(proxy_url)

    def use_proxy(self, proxy_url: str) -> None:
        """Send every request of this session through `proxy_url` from now on. The environment's
        proxy settings are ignored from then on (`trust_env`), so `NO_PROXY` cannot bypass it."""
        self.proxy_url = proxy_url
        self.proxies = {"http": proxy_url, "https": proxy_url}
        self.trust_env = False

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["timeout"] = self.timeout_s
        if self.proxy_url is not None:
            # Whatever the SDK passes (Kite passes its own `proxies`, `{}` by default).
            kwargs["proxies"] = {"http": self.proxy_url, "https": self.proxy_url}
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
