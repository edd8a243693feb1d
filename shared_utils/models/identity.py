"""The Cognito claims the platform reads, wherever a token is checked (API Gateway's authorizer,
the feed's $connect authorizer, the local platform's tokens)."""

GROUPS_CLAIM = "cognito:groups"
# The Cognito user-pool group of platform admins (marketplace publishing, platform-wide kill switch).
ADMINS_GROUP = "Admins"
