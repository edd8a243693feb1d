"""Per-client egress: each client's broker calls leave from that client's own static IP.

Since 2026-04-01 (SEBI's retail-algo framework, NSE's implementation standards) brokers accept
API orders only from a static IP the client registered, one client per address; a client's
immediate family (spouse, dependent children, dependent parents) may share it. One address for
every user of the platform therefore breaks the rule. An egress (`ClientEgress`) is one client
group's address and a forward proxy whose outgoing connections leave from it (the
`cdk_stack.egress.ClientEgress` construct builds them: one Elastic IP per group).

- `EgressDirectory` is the port that says which egress a user's broker account uses;
  `StaticEgressDirectory` reads it from the document the stack publishes (`CLIENT_EGRESS`).
- `egress_for(...)` fails closed: where egress is required, an account without one raises
  `ConfigurationError` before any adapter is built, so no order leaves from a shared address.
- `proxied_session(session, egress)` routes an adapter's `BrokerHttpSession` through the proxy
  (`BrokerHttpSession.use_proxy`: SDK `proxies` and `NO_PROXY` cannot bypass it); a proxy that
  is down surfaces as `BrokerUnavailableError(order_may_exist=False)`, never as a direct call.
- `with_egress_ip(endpoint, egress)` puts the registered address in `BrokerEndpoint`
  (Angel One sends it as `X-ClientPublicIP`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from ipaddress import IPv4Address, IPv6Address
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.http import BrokerHttpSession
from shared_utils.errors import ConfigurationError

# Lowercase letters, digits and inner hyphens: it names cloud resources and stack outputs too.
GROUP_ID_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$"
# A user id (all of that user's broker accounts) or `user_id/broker_account_id` (that one account).
MEMBER_PATTERN = r"^[^\s/]+(?:/[^\s/]+)?$"
# The environment variable the stack fills with the egress document (JSON).
EGRESS_ENVIRONMENT_VARIABLE = "CLIENT_EGRESS"


class ClientEgress(BaseModel):
    """One client group's way out: `public_ip` is what the client registers with the broker;
    `proxy_url` is the forward proxy whose outgoing connections leave from that address."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group_id: str = Field(pattern=GROUP_ID_PATTERN)
    public_ip: IPv4Address | IPv6Address
    proxy_url: str

    @field_validator("proxy_url")
    @classmethod
    def _forward_proxy(cls, value: str) -> str:
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
            raise ValueError("must be a forward proxy URL: http://host:port")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.password:
            raise ValueError("must be http://host:port or http://group:@host:port, no path or secret")
        return value

    @model_validator(mode="after")
    def _names_its_group(self) -> ClientEgress:
        """A proxy URL with a user name names the group (the stack's proxies check it: a call on
        another group's port is refused rather than sent from that group's address)."""
        user = urlsplit(self.proxy_url).username
        if user is not None and user != self.group_id:
            raise ValueError(f"proxy_url names group {user!r}, not {self.group_id!r}")
        return self

    @property
    def proxies(self) -> dict[str, str]:
        """`requests`' proxies mapping: both schemes through the one proxy."""
        return {"http": self.proxy_url, "https": self.proxy_url}


class EgressGroup(ClientEgress):
    """An egress and who uses it: one client, or one client's immediate family."""

    members: tuple[str, ...] = Field(min_length=1)

    @field_validator("members")
    @classmethod
    def _members(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for member in value:
            if not re.fullmatch(MEMBER_PATTERN, member):
                raise ValueError(f"{member!r} is neither a user id nor user_id/broker_account_id")
        return value

    def egress(self) -> ClientEgress:
        return ClientEgress(group_id=self.group_id, public_ip=self.public_ip, proxy_url=self.proxy_url)


class EgressDocument(BaseModel):
    """What the stack publishes: whether egress is required here, and every group."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    required: bool = True
    groups: tuple[EgressGroup, ...] = ()

    @model_validator(mode="after")
    def _unambiguous(self) -> EgressDocument:
        seen_groups: set[str] = set()
        seen_members: dict[str, str] = {}
        for group in self.groups:
            if group.group_id in seen_groups:
                raise ValueError(f"group {group.group_id!r} appears twice")
            seen_groups.add(group.group_id)
            for member in group.members:
                other = seen_members.setdefault(member, group.group_id)
                if other != group.group_id:
                    raise ValueError(f"{member!r} is in groups {other!r} and {group.group_id!r}")
        return self


@runtime_checkable
class EgressDirectory(Protocol):
    """Which egress a user's broker account uses; None: it has none."""

    def for_account(self, user_id: str, broker_account_id: str) -> ClientEgress | None: ...


class StaticEgressDirectory:
    """The groups of the published document. An account listed by itself
    (`user_id/broker_account_id`) takes precedence over its user's listing (`user_id`)."""

    def __init__(self, groups: Iterable[EgressGroup], *, required: bool = True) -> None:
        document = EgressDocument(required=required, groups=tuple(groups))
        self.required = document.required
        self._by_member: Mapping[str, ClientEgress] = {
            member: group.egress() for group in document.groups for member in group.members
        }

    @classmethod
    def from_json(cls, text: str) -> StaticEgressDirectory:
        """The document in `CLIENT_EGRESS`; a malformed one is a `ConfigurationError`."""
        try:
            document = EgressDocument.model_validate(json.loads(text))
        except (json.JSONDecodeError, ValidationError) as error:
            raise ConfigurationError(
                message=f"{EGRESS_ENVIRONMENT_VARIABLE} is not a valid egress document: {error}"
            ) from None
        return cls(document.groups, required=document.required)

    def for_account(self, user_id: str, broker_account_id: str) -> ClientEgress | None:
        return self._by_member.get(f"{user_id}/{broker_account_id}") or self._by_member.get(user_id)


def egress_for(
    directory: EgressDirectory, user_id: str, broker_account_id: str, *, required: bool
) -> ClientEgress | None:
    """The account's egress. None only where none is required (dev, the local platform); where
    one is required, an account without one fails closed before anything is built or sent."""
    egress = directory.for_account(user_id, broker_account_id)
    if egress is None and required:
        raise ConfigurationError(
            message=f"broker account {broker_account_id} of user {user_id} has no static-IP egress: "
            "orders must leave from the client's registered address, never a shared one "
            "(add the client to a group in client_egress and register the group's address)"
        )
    return egress


def proxied_session(session: BrokerHttpSession, egress: ClientEgress) -> BrokerHttpSession:
    """`session`, now sending everything through the egress's proxy. A session already bound
    to another egress is refused: one adapter never speaks from two clients' addresses."""
    if session.proxy_url is not None and session.proxy_url != egress.proxy_url:
        raise ConfigurationError(
            message=f"{session.broker} session already leaves through another egress "
            f"(group {egress.group_id} asked for)"
        )
    session.use_proxy(egress.proxy_url)
    return session


def with_egress_ip(endpoint: BrokerEndpoint, egress: ClientEgress) -> BrokerEndpoint:
    """The endpoint announcing the client's registered address (Angel One's X-ClientPublicIP)."""
    return endpoint.model_copy(update={"client_public_ip": str(egress.public_ip)})
