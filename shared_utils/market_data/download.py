"""One public file downloaded for the morning's instrument masters: any failure (an HTTP error,
no answer in time, a refused connection) is a `MarketDataUnavailableError` naming the file, so a
master is taken whole or not at all."""

from __future__ import annotations

import requests

from shared_utils.brokers.port import BrokerError
from shared_utils.errors import MarketDataUnavailableError


def fetch(session: requests.Session, url: str, timeout_s: float, where: str) -> bytes:
    """The body at `url`; `where` names the file in the error (e.g. "angel one scrip master")."""
    try:
        response = session.get(url, timeout=timeout_s)
        response.raise_for_status()
        return response.content
    except requests.HTTPError as error:
        status = error.response.status_code if error.response is not None else "error"
        detail = f"HTTP {status}"
    except requests.Timeout:
        detail = f"no answer in {timeout_s}s"
    except (requests.RequestException, BrokerError) as error:  # BrokerError: a BrokerHttpSession
        detail = f"{type(error).__name__}: {error}"
    raise MarketDataUnavailableError(message=f"{where}: unavailable: {detail}")
