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


HANDLER_PREFIX = "lambda_functions.option_baskets."
# Custom resources whose handler is one of CDK's own functions: the console's bucket deployment
# runs at deploy time, is not built by `FunctionFactory` and does none of the platform's work.
FRAMEWORK_CUSTOM_RESOURCES = ("Custom::CDKBucketDeployment",)


def framework_functions(synth: Synthesized) -> set[str]:
    return {
        ref_target(resource["Properties"]["ServiceToken"]) or ""
        for resource_type in FRAMEWORK_CUSTOM_RESOURCES
        for resource in synth.of_type(resource_type).values()
    }


def platform_functions(synth: Synthesized) -> dict[str, dict[str, Any]]:
    """The platform's functions (built by `FunctionFactory`); every other function in the
    template is the handler of one of CDK's known custom resources."""
    functions = synth.of_type("AWS::Lambda::Function")
    platform = {
        logical_id: function
        for logical_id, function in functions.items()
        if function["Properties"].get("Handler", "").startswith(HANDLER_PREFIX)
    }
    assert set(functions) - set(platform) == framework_functions(synth)
    return platform


def platform_mappings(synth: Synthesized, source_type: str) -> dict[str, dict[str, Any]]:
    """Event source mappings whose source is a resource of `source_type` (e.g. AWS::SQS::Queue)."""
    found = {}
    for logical_id, mapping in synth.of_type("AWS::Lambda::EventSourceMapping").items():
        source = ref_target(mapping["Properties"]["EventSourceArn"])
        if source is not None and synth.resources[source]["Type"] == source_type:
            found[logical_id] = mapping
    return found


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


def rendered(value: Any) -> str:
    """A string value as text, references shown as `<LogicalId>`, `<LogicalId.Attribute>` or
    `<import:ExportName>` (pseudo parameters as `<AWS::Region>` ...)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(rendered(part) for part in parts)
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    if "Fn::ImportValue" in value:
        return f"<import:{value['Fn::ImportValue']}>"
    raise AssertionError(f"cannot render {value!r}")
