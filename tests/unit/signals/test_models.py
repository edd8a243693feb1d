"""What a webhook may be created with: 422s naming the field, before anything is stored."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared_utils.signals.models import WebhookCreate

BASE = {"strategy_id": "s-1", "action": "ENTER", "format": "TRADINGVIEW"}


def invalid(**fields) -> str:
    with pytest.raises(ValidationError) as caught:
        WebhookCreate.model_validate({**BASE, **fields})
    return str(caught.value)


def test_defaults_six_requests_a_minute_and_no_secret():
    webhook = WebhookCreate.model_validate(BASE)

    assert webhook.rate_limit_per_minute == 6
    assert webhook.secret_in() is None


def test_exit_leg_needs_a_leg_and_only_exit_leg_takes_one():
    assert "leg_no\n  Value error, required for EXIT_LEG" in invalid(action="EXIT_LEG")
    assert "leg_no\n  Value error, only for EXIT_LEG" in invalid(action="EXIT", leg_no=2)
    assert WebhookCreate.model_validate({**BASE, "action": "EXIT_LEG", "leg_no": 2}).leg_no == 2
    assert "leg_no" in invalid(action="EXIT_LEG", leg_no=7)


@pytest.mark.parametrize("limit", [0, 61])
def test_the_rate_limit_is_one_to_sixty_a_minute(limit):
    assert "rate_limit_per_minute" in invalid(rate_limit_per_minute=limit)


@pytest.mark.parametrize("secret", ["short", "x" * 129])
def test_a_shared_secret_is_8_to_128_characters(secret):
    assert "shared_secret" in invalid(shared_secret=secret)


def test_the_secret_is_read_from_secret_unless_named_and_never_shown():
    webhook = WebhookCreate.model_validate({**BASE, "shared_secret": "s3cret-passphrase"})
    named = WebhookCreate.model_validate(
        {**BASE, "shared_secret": "s3cret-passphrase", "secret_field": "auth.key"}
    )

    assert webhook.secret_in() == "secret" and named.secret_in() == "auth.key"
    assert "s3cret-passphrase" not in repr(webhook) and "s3cret-passphrase" not in webhook.model_dump_json()


def test_a_secret_field_without_a_secret_or_doubling_as_id_or_match_is_refused():
    assert "needs a shared_secret" in invalid(secret_field="secret")
    assert "cannot be the id" in invalid(shared_secret="s3cret-passphrase", signal_id_field="secret")
    assert "cannot be the id" in invalid(shared_secret="s3cret-passphrase", match={"secret": "x"})


def test_chartink_fields_are_its_own_and_its_secret_goes_in_a_name():
    chartink = {**BASE, "format": "CHARTINK"}
    webhook = WebhookCreate.model_validate({**chartink, "shared_secret": "s3cret-passphrase"})

    assert webhook.secret_in() == "alert_name"
    assert "Chartink sends no field ticker" in invalid(**chartink, match={"ticker": "NIFTY"})
    assert "alert_name or scan_name" in invalid(
        **chartink, shared_secret="s3cret-passphrase", secret_field="x"
    )
    assert WebhookCreate.model_validate({**chartink, "signal_id_field": "triggered_at"})


def test_field_paths_and_match_size_are_bounded():
    assert "signal_id_field" in invalid(signal_id_field="a b")
    assert "at most 5" in invalid(match={f"f{n}": "x" for n in range(6)})
    assert "Extra inputs are not permitted" in invalid(user_id="someone-else")
