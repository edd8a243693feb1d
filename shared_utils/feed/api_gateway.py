"""The deployed `ConnectionSender`: API Gateway's management API (PostToConnection)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from shared_utils.feed.broadcaster import ConnectionGone

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient


class ApiGatewaySender:
    def __init__(self, client: ApiGatewayManagementApiClient) -> None:
        self._client = client

    def send(self, connection_id: str, payload: bytes) -> None:
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=payload)
        except self._client.exceptions.GoneException as error:
            raise ConnectionGone(connection_id) from error
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 410:
                raise ConnectionGone(connection_id) from error
            raise
