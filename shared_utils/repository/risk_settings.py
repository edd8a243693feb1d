"""Portfolio rules: the user's (`USER#{user}` / `RISK_SETTINGS`, versioned) and the baskets'
(`Basket.risk`, on the basket item), read together by the minute's check."""

from __future__ import annotations

from collections.abc import Iterable

from shared_utils import keys
from shared_utils.errors import ConflictError
from shared_utils.models.items import BasketItem, RiskSettingsItem
from shared_utils.models.risk import PortfolioRules, RiskSettings, RiskSettingsUpdate, has_rules
from shared_utils.repository.dynamo import CHANGED
from shared_utils.repository.trading_table import TradingTable


class RiskSettingsStore(TradingTable):
    def get_risk_settings(self, user_id: str) -> RiskSettings:
        """The user's rules; version 0 and no rule when never set."""
        raw = self._get(keys.user_pk(user_id), keys.RISK_SETTINGS_SK)
        return RiskSettingsItem.from_dynamo(raw).to_domain() if raw else RiskSettings(user_id=user_id)

    def put_risk_settings(self, user_id: str, data: RiskSettingsUpdate) -> RiskSettings:
        """Replace the user's rules if `data.version` is the stored one (0: none stored yet)."""
        settings = RiskSettings(
            user_id=user_id, risk=data.risk, version=data.version + 1, updated_at=self._clock.now()
        )
        if data.version == 0:
            condition: dict[str, object] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(data.version)}},
            }
        self._put_if(
            RiskSettingsItem.from_domain(settings).to_dynamo(),
            lambda: ConflictError(f"risk settings {CHANGED}"),
            **condition,
        )
        return settings

    def portfolio_rules(self, user_ids: Iterable[str], baskets: Iterable[tuple[str, str]]) -> PortfolioRules:
        """The users' rules and the baskets' (by (user, basket)) in batched reads of 100 keys:
        the minute's check asks for every user and basket holding an open position."""
        users = list(dict.fromkeys(user_ids))
        wanted = list(dict.fromkeys(baskets))
        item_keys = [self._key(keys.user_pk(user), keys.RISK_SETTINGS_SK) for user in users] + [
            self._key(keys.user_pk(user), keys.basket_sk(basket)) for user, basket in wanted
        ]
        found = PortfolioRules()
        for raw in self._batch_get(item_keys) if item_keys else []:
            if raw["sk"]["S"] == keys.RISK_SETTINGS_SK:
                settings = RiskSettingsItem.from_dynamo(raw)
                if has_rules(settings.risk):
                    found.users[settings.user_id] = settings.risk
            else:
                basket = BasketItem.from_dynamo(raw)
                if has_rules(basket.risk):
                    found.baskets[(basket.user_id, basket.basket_id)] = basket.risk
        return found
