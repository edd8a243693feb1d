"""Who may call the API, and where broker accounts live.

Cross-stack mode (environments.json names the auth stack's exports): the user pool and the
broker-accounts table belong to the separately deployed auth stack and are imported with
`Fn.import_value`. Its `ApiGatewayId` export is the auth stack's own REST API (sign-in and
broker linking); this stack does not add methods to it — a REST API is only redeployed by its
owner's Deployment, so methods added from here would stay undeployed, and attaching them would
also need the root resource id, which is not exported. The id is republished as a stack output
(`AuthApiGatewayId`) so the frontend reads both API ids from this stack.

The broker-accounts table's stream (the live feed reads it) is imported with it, from the
`broker_accounts_stream` export; the hosted UI's base URL and the console's app client id come
from `user_pool_domain_url` and `console_client_id`. The auth stack owns that client, so after
this stack's first deploy its callback and logout URLs must list this stack's `ConsoleUrl`
(docs/operations.md, "The trader console").

Standalone mode: a user pool (with an `Admins` group) and a broker-accounts table are created
here, so the stack deploys on its own. The pool gets a Cognito hosted-UI domain and, through
`add_console_client`, the console's public app client (authorization code grant with PKCE, no
secret; the console's URL as callback and logout URL). Where real money is traded (staging,
production) that pool is on Cognito's Plus feature plan with threat protection enforced
(compromised-credential and risky sign-in detection); dev's pool, holding test users only, stays
on the default plan.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnOutput, Duration, Fn, Stack, Validations
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
        # The hosted UI's base URL (https://..., no trailing slash): the console signs in there.
        self.hosted_ui_url: str
        self._pool: cognito.UserPool | None = None
        self._console_client_id: str | None = None
        if config.auth_stack_exports is not None:
            exports = config.auth_stack_exports
            self.user_pool = cognito.UserPool.from_user_pool_id(
                self, "ImportedUserPool", Fn.import_value(exports.user_pool_id)
            )
            table = dynamodb.Table.from_table_attributes(
                self,
                "ImportedBrokerAccounts",
                table_name=Fn.import_value(exports.broker_accounts_table),
                table_stream_arn=Fn.import_value(exports.broker_accounts_stream),
            )
            self.broker_accounts = TableHandle(table, BROKER_ACCOUNTS)
            self.hosted_ui_url = Fn.import_value(exports.user_pool_domain_url)
            self._console_client_id = Fn.import_value(exports.console_client_id)
            CfnOutput(
                self,
                "AuthApiGatewayId",
                value=Fn.import_value(exports.api_gateway_id),
                description="REST API of the auth stack (sign-in, broker linking)",
            ).override_logical_id("AuthApiGatewayId")
        else:
            self._pool = self._standalone_user_pool(config)
            self.user_pool = self._pool
            self.broker_accounts = TableHandle(build_table(self, BROKER_ACCOUNTS, config), BROKER_ACCOUNTS)
            # Domain prefixes are unique per region across all accounts: the account id keeps
            # two deployments of one environment name apart.
            domain = self._pool.add_domain(
                "HostedUi",
                cognito_domain=cognito.CognitoDomainOptions(
                    domain_prefix=f"{resource_prefix(config.name)}-{Stack.of(self).account}"
                ),
            )
            self.hosted_ui_url = domain.base_url()
            CfnOutput(self, "HostedUiUrl", value=self.hosted_ui_url).override_logical_id("HostedUiUrl")

    def add_console_client(self, console_url: str) -> str:
        """The app client id the trader console signs in with (`console_url`: its https URL with
        the trailing slash, the OAuth redirect URI). Cross-stack: the auth stack's client."""
        if self._console_client_id is not None:
            return self._console_client_id
        if self._pool is None:
            raise ValueError("no user pool to add the console's client to")
        client = self._pool.add_client(
            "ConsoleClient",
            generate_secret=False,  # a browser app keeps no secret: PKCE protects the code
            # As the web client: SRP (no password leaves the browser) and refresh tokens, not
            # Cognito's default that adds custom auth.
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
                callback_urls=[console_url],
                logout_urls=[console_url],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
        )
        self._console_client_id = client.user_pool_client_id
        CfnOutput(self, "ConsoleClientId", value=client.user_pool_client_id).override_logical_id(
            "ConsoleClientId"
        )
        return self._console_client_id

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
