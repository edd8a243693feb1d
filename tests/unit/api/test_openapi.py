"""docs/openapi.json is the published contract: it must be exactly what the code generates."""

from __future__ import annotations

import json

from shared_utils.api.catalog import API_ROUTES
from shared_utils.api.openapi import DEFAULT_OUTPUT, openapi_document, render


def test_published_contract_matches_the_code():
    assert DEFAULT_OUTPUT.read_text() == render(), (
        "docs/openapi.json is stale: run `.venv/bin/python -m shared_utils.api.openapi`"
    )


def test_contract_lists_every_catalog_route_and_nothing_else():
    paths = json.loads(DEFAULT_OUTPUT.read_text())["paths"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item}

    assert documented == {(route.method, route.path) for route in API_ROUTES}


def test_every_operation_documents_errors_with_the_error_model():
    document = openapi_document()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status in ("400", "401", "422", "429", "500"):
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
            assert "security" not in operation, (method, path)
    assert document["security"] == [{"cognito": []}]
