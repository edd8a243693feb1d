"""The local platform over HTTP: identity, Swagger UI, the API's handlers, clean start and stop."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, Platform, _clean_env, start_platform, stop_platform


def test_requests_without_a_valid_token_get_401_with_the_api_error_body(platform: Platform) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic abc"}):
        reply = platform.request("GET", "/options/baskets", headers=headers)
        assert reply.status == 401
        assert reply.json()["code"] == "UNAUTHORIZED"
        assert set(reply.json()) == {"code", "message", "details"}


def test_a_token_signed_with_another_secret_is_refused(platform: Platform) -> None:
    import jwt

    forged = jwt.encode(
        {
            "sub": "mallory",
            "iss": "options-platform-local",
            "aud": "options-api",
            "iat": 1,
            "exp": 4102444800,
        },
        "another-secret-of-thirty-two-bytes-or-more",
        algorithm="HS256",
    )
    assert platform.request("GET", "/options/baskets", token=forged).status == 401


def test_token_gives_the_user_three_paper_broker_accounts(platform: Platform) -> None:
    token = platform.token("carol")
    platform.token("carol")  # asking again creates nothing twice
    reply = platform.request("GET", "/options/broker-accounts", token=token)
    assert reply.status == 200
    accounts = reply.json()["items"]
    assert sorted(a["broker"] for a in accounts) == ["ANGEL_ONE", "FINVASIA", "ZERODHA"]
    assert all(a["paper"] and a["user_id"] == "carol" for a in accounts)


def test_each_user_sees_only_their_own_baskets(platform: Platform) -> None:
    alice, bob = platform.token("alice"), platform.token("bob")
    created = platform.request("POST", "/options/baskets", token=alice, body={"name": "Weekly income"})
    assert created.status == 201, created.body
    basket_id = created.json()["basket_id"]
    assert created.json()["user_id"] == "alice"
    mine = platform.request("GET", "/options/baskets", token=alice).json()["items"]
    assert [b["basket_id"] for b in mine] == [basket_id]
    assert platform.request("GET", "/options/baskets", token=bob).json()["items"] == []
    assert platform.request("GET", f"/options/baskets/{basket_id}", token=bob).status == 404


def test_a_chart_alert_reaches_a_signal_webhook_without_a_bearer_token(platform: Platform) -> None:
    dave = platform.token("dave")
    basket = platform.request("POST", "/options/baskets", token=dave, body={"name": "Signals"}).json()
    templates = platform.request("GET", "/options/strategy-templates", token=dave).json()["items"]
    legs = next(t["legs"] for t in templates if t["name"] == "IRON_CONDOR")
    strategy = platform.request(
        "POST",
        f"/options/baskets/{basket['basket_id']}/strategies",
        token=dave,
        body={
            "name": "Condor",
            "underlying": "NIFTY",
            "legs": legs,
            "entry": {"time": "09:20", "weekdays": ["MON"]},
        },
    )
    assert strategy.status == 201, strategy.body
    body = {"strategy_id": strategy.json()["strategy_id"], "action": "EXIT", "format": "TRADINGVIEW"}
    webhook = platform.request("POST", "/options/webhooks", token=dave, body=body).json()

    alert = platform.request("POST", webhook["url_path"], body={"action": "sell", "ticker": "NIFTY"})
    unknown = platform.request("POST", "/signals/" + "x" * 43, body={"action": "sell"})

    # Queued in a session, refused (with the session's hours) outside one: never a 401.
    assert alert.status in {202, 409}, alert.body
    assert alert.json()["status"] in {"QUEUED", "REFUSED"}
    assert unknown.status == 404 and unknown.json() == {
        "code": "NOT_FOUND",
        "message": "No such resource",
        "details": [],
    }
    listed = platform.request("GET", f"/options/webhooks/{webhook['webhook_id']}/signals", token=dave).json()
    assert [item["http_status"] for item in listed["items"]] == [alert.status]


def test_swagger_ui_is_served_offline_with_the_openapi_document(platform: Platform) -> None:
    page = platform.request("GET", "/docs")
    assert page.status == 200
    html = page.body.decode()
    assert "SwaggerUIBundle" in html and "/openapi.json" in html
    assert "http" not in html.split("<body>")[1].replace(platform.base_url, "").replace('url: "/', "")
    assert platform.request("GET", "/docs/swagger-ui-bundle.min.js").status == 200
    assert platform.request("GET", "/docs/swagger-ui.min.css").status == 200
    document = platform.request("GET", "/openapi.json").json()
    assert "/options/baskets" in document["paths"]
    assert document["servers"][0]["url"] == platform.base_url


def test_token_without_a_running_platform_says_how_to_start_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "local_platform", "--data-dir", str(tmp_path), "token", "--user", "x"],
        cwd=REPO,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "make run" in done.stderr


def test_port_in_use_names_the_port_and_exits_2(platform: Platform, tmp_path: Path) -> None:
    port = platform.base_url.rsplit(":", 1)[1]
    done = subprocess.run(
        [sys.executable, "-m", "local_platform", "--data-dir", str(tmp_path), "run", "--port", port],
        cwd=REPO,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"port {port}" in done.stderr and "--port" in done.stderr


def test_bad_dates_are_refused_with_the_reason(tmp_path: Path) -> None:
    cases = {"2026-13-01": "YYYY-MM-DD", "2026-11-22": "Sunday", "2026-11-24": "holiday"}
    for raw, reason in cases.items():
        done = subprocess.run(
            [sys.executable, "-m", "local_platform", "--data-dir", str(tmp_path), "run", "--date", raw],
            cwd=REPO,
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, (raw, done.stderr)
        assert reason in done.stderr, (raw, done.stderr)


def test_ctrl_c_stops_cleanly_and_removes_the_state_file(tmp_path_factory: pytest.TempPathFactory) -> None:
    running = start_platform(tmp_path_factory.mktemp("stop"), "--no-timer")
    state = json.loads((running.data_dir / "state.json").read_text())
    assert state["api_url"] == running.base_url
    assert stop_platform(running) == 0
    assert "Stopped." in running.output.read_text()
    assert not (running.data_dir / "state.json").exists()
    with socket.socket() as probe:  # the API port is free again (client sockets may linger in TIME_WAIT)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", int(running.base_url.rsplit(":", 1)[1])))
