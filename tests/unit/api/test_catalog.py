"""The catalog drives the infrastructure: each module it names must serve exactly its routes."""

from __future__ import annotations

import importlib
import re

import pytest

from shared_utils.api.catalog import API_ROUTES, modules, routes_of


def served_routes(module: str) -> set[tuple[str, str]]:
    app = importlib.import_module(f"lambda_functions.option_baskets.{module}").app
    schema = app.get_openapi_schema()
    return {
        (method.upper(), path)
        for path, item in schema.paths.items()
        for method in item.model_dump(exclude_none=True)
        if method in {"get", "post", "put", "delete", "patch"}
    }


def test_routes_are_unique_and_under_options():
    keys = [(route.method, route.path) for route in API_ROUTES]
    assert len(keys) == len(set(keys))
    for route in API_ROUTES:
        assert route.method in {"GET", "POST", "PUT", "DELETE"}
        assert re.fullmatch(r"/options(/([a-z-]+|\{[a-z_]+\}))+", route.path), route.path


@pytest.mark.parametrize("module", modules())
def test_each_handler_module_serves_exactly_its_catalog_routes(module):
    assert served_routes(module) == {(route.method, route.path) for route in routes_of(module)}
