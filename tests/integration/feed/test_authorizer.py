"""The WebSocket $connect authorizer against a stub of the user pool's JWKS endpoint (RS256 keys
served on 127.0.0.1 in the documented JWKS format): a valid ID token of the console's app client
connects, as that user; anything else is denied at connect."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from lambda_functions.option_baskets import FEED_AUTHORIZER, load_handler
from shared_utils.feed.authorizer import issuer
from tests.conftest import install_platform
from tests.integration.api.conftest import FakeLambdaContext

POOL = "ap-south-1_TestPool1"
CLIENT = "console-client"
ARN = "arn:aws:execute-api:ap-south-1:123456789012:abc123/prod/$connect"
_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(_KEY.public_key()))
    body = json.dumps({"keys": [public | {"kid": "key-1", "alg": "RS256", "use": "sig"}]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{POOL}/.well-known/jwks.json"
    server.shutdown()


@pytest.fixture
def authorize(test_settings: Any, platform_clock: Any, jwks_url: str) -> Any:
    settings = test_settings.model_copy(
        update={"cognito_user_pool_id": POOL, "cognito_app_client_id": CLIENT, "cognito_jwks_url": jwks_url}
    )
    install_platform(settings, platform_clock, None)
    handler = load_handler(FEED_AUTHORIZER)

    def call(token: str | None) -> dict[str, Any]:
        event = {
            "type": "REQUEST",
            "methodArn": ARN,
            "headers": {},
            "queryStringParameters": {"token": token} if token is not None else {},
            "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": "c-1"},
        }
        return handler(event, FakeLambdaContext())

    return call


def token(now: datetime, key: Any = _KEY, **changes: Any) -> str:
    claims = {
        "sub": "alice",
        "cognito:groups": ["Admins"],
        "iss": issuer("ap-south-1", POOL),
        "aud": CLIENT,
        "token_use": "id",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
    } | changes
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None}, key, algorithm="RS256", headers={"kid": "key-1"}
    )


def effect(answer: dict[str, Any]) -> str:
    return str(answer["policyDocument"]["Statement"][0]["Effect"])


def test_a_valid_id_token_connects_as_its_user(authorize: Any, platform_clock: Any) -> None:
    answer = authorize(token(platform_clock.now()))
    assert effect(answer) == "Allow"
    assert answer["principalId"] == "alice"
    assert answer["context"] == {"sub": "alice", "cognito:groups": "Admins"}


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": -60},  # expired a minute ago
        {"aud": "another-app"},
        {"iss": issuer("ap-south-1", "ap-south-1_OtherPool")},
        {"token_use": "access"},
        {"sub": None},
    ],
    ids=["expired", "other-client", "other-pool", "access-token", "no-subject"],
)
def test_a_token_that_is_not_a_current_id_token_of_this_client_is_denied(
    authorize: Any, platform_clock: Any, changes: dict[str, Any]
) -> None:
    now = platform_clock.now()
    if changes.get("exp") == -60:
        changes = {"exp": int((now - timedelta(minutes=1)).timestamp())}
    answer = authorize(token(now, **changes))
    assert effect(answer) == "Deny" and "context" not in answer


def test_a_forged_or_missing_token_is_denied(authorize: Any, platform_clock: Any) -> None:
    assert effect(authorize(token(platform_clock.now(), key=_OTHER_KEY))) == "Deny"
    assert effect(authorize("not-a-jwt")) == "Deny"
    assert effect(authorize(None)) == "Deny"
