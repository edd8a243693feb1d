"""Small readers over a synthesized template: who references whom, by logical id."""

from __future__ import annotations

from typing import Any

from tests.infra.conftest import Synthesized


def ref_target(value: Any) -> str | None:
    """The logical id a `Ref` / `Fn::GetAtt` points at, or None for anything else."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def function_by_module(synth: Synthesized, module: str) -> str:
    handler = f"lambda_functions.option_baskets.{module}.handler"
    matches = [
        logical_id
        for logical_id, resource in synth.of_type("AWS::Lambda::Function").items()
        if resource["Properties"]["Handler"] == handler
    ]
    assert len(matches) == 1, f"{module}: {matches}"
    return matches[0]


def policy_statements_of_role(synth: Synthesized, role_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in synth.of_type("AWS::IAM::Policy").values():
        if any(ref_target(role) == role_id for role in policy["Properties"]["Roles"]):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statement_targets(statement: dict[str, Any]) -> set[str]:
    """Logical ids referenced anywhere in a statement's resources (through Fn::Join too)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        target = ref_target(node)
        if target:
            found.add(target)
        elif isinstance(node, dict):
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(statement["Resource"])
    return found
