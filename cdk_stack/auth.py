"""Who may call the API, and where broker accounts live.

Cross-stack mode (environments.json names the auth stack's exports): the user pool and the
broker-accounts table belong to the separately deployed auth stack and are imported with
`Fn.import_value`. Its `ApiGatewayId` export is the auth stack's own REST API (sign-in and
broker linking); this stack does not add methods to it — a REST API is only redeployed by its
owner's Deployment, so methods added from here would stay undeployed, and attaching them would
also need the root resource id, which is not exported. The id is republished as a stack output
(`AuthApiGatewayId`) so the frontend reads both API ids from this stack.

Standalone mode: a user pool (with an `Admins` group) and a broker-accounts table are created
here, so the stack deploys on its own. Where real money is traded (staging, production) that pool
is on Cognito's Plus feature plan with threat protection enforced (compromised-credential and
risky sign-in detection); dev's pool, holding test users only, stays on the default plan.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnOutput, Duration, Fn, Validations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from cdk_stack.config import REAL_MONEY_ENVIRONMENTS, EnvironmentConfig
from cdk_stack.data import TableHandle, build_table, removal_policy
from shared_utils.api.identity import ADMINS_GROUP
from shared_utils.tables import BROKER_ACCOUNTS, resource_prefix


class Auth(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        self.user_pool: cognito.IUserPool
        self.broker_accounts: TableHandle
        if config.auth_stack_exports is not None:
            exports = config.auth_stack_exports
            self.user_pool = cognito.UserPool.from_user_pool_id(
                self, "ImportedUserPool", Fn.import_value(exports.user_pool_id)
            )
            table = dynamodb.Table.from_table_name(
                self, "ImportedBrokerAccounts", Fn.import_value(exports.broker_accounts_table)
            )
            self.broker_accounts = TableHandle(table, BROKER_ACCOUNTS)
            CfnOutput(
                self,
                "AuthApiGatewayId",
                value=Fn.import_value(exports.api_gateway_id),
                description="REST API of the auth stack (sign-in, broker linking)",
            ).override_logical_id("AuthApiGatewayId")
        else:
            self.user_pool = self._standalone_user_pool(config)
            self.broker_accounts = TableHandle(build_table(self, BROKER_ACCOUNTS, config), BROKER_ACCOUNTS)

    def _standalone_user_pool(self, config: EnvironmentConfig) -> cognito.UserPool:
        protected = config.name in REAL_MONEY_ENVIRONMENTS
        pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"{resource_prefix(config.name)}-users",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            feature_plan=cognito.FeaturePlan.PLUS if protected else None,
            standard_threat_protection_mode=(
                cognito.StandardThreatProtectionMode.FULL_FUNCTION if protected else None
            ),
            removal_policy=removal_policy(config),
        )
        if not protected:
            Validations.of(pool).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-COG8",
                    reason=f"The {config.name} pool holds test users only, so it stays off the "
                    "paid Plus feature plan (threat protection); the pools of staging and "
                    "production are on it (REAL_MONEY_ENVIRONMENTS).",
                )
            )
        cognito.UserPoolGroup(
            self,
            "AdminsGroup",
            user_pool=pool,
            group_name=ADMINS_GROUP,
            description="May publish baskets to the marketplace",
        )
        client = pool.add_client(
            "WebClient",
            auth_flows=cognito.AuthFlow(user_srp=True),
            generate_secret=False,
            prevent_user_existence_errors=True,
        )
        CfnOutput(self, "UserPoolId", value=pool.user_pool_id).override_logical_id("UserPoolId")
        CfnOutput(self, "UserPoolClientId", value=client.user_pool_client_id).override_logical_id(
            "UserPoolClientId"
        )
        return pool
