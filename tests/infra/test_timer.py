"""Master timer: a Standard machine waiting on absolute timestamps, started 09:00 IST on weekdays."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from cdk_stack.brokers import manages_broker_sessions
from cdk_stack.timer import EMITTER_SUBSTITUTION, state_machine_name
from shared_utils.timer.sessions import END_OF_DAY_ACTION
from tests.infra.conftest import Synthesized
from tests.infra.helpers import as_list, function_by_module, policy_statements_of_role, ref_target

pytestmark = pytest.mark.infra


def _machine(synth: Synthesized) -> dict[str, Any]:
    (machine,) = synth.of_type("AWS::StepFunctions::StateMachine").values()
    return machine["Properties"]


def test_state_machine_is_standard_and_waits_on_a_timestamp_path(synthesized: Synthesized) -> None:
    machine = _machine(synthesized)
    assert machine["StateMachineType"] == "STANDARD"
    assert machine["StateMachineName"] == state_machine_name(synthesized.config)
    definition = json.loads(machine["DefinitionString"])
    states = definition["States"]
    # The loop: a Choice whose default goes on to a Wait on an absolute timestamp, then to Emit.
    (loop_wait,) = [
        states[state["Default"]]
        for state in states.values()
        if state["Type"] == "Choice" and states[state["Default"]]["Type"] == "Wait"
    ]
    assert "TimestampPath" in loop_wait
    emit = states[loop_wait["Next"]]
    assert emit["Parameters"]["FunctionName"] == f"${{{EMITTER_SUBSTITUTION}}}"
    emitter = function_by_module(synthesized, "event_emitter")
    assert ref_target(machine["DefinitionSubstitutions"][EMITTER_SUBSTITUTION]) == emitter
    assert f"${{{EMITTER_SUBSTITUTION}}}" in machine["DefinitionString"]


def test_state_machine_logs_traces_and_may_only_invoke_the_emitter_and_restart_itself(
    synthesized: Synthesized,
) -> None:
    machine = _machine(synthesized)
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    statements = policy_statements_of_role(synthesized, ref_target(machine["RoleArn"]) or "")
    invoke = [s for s in statements if "lambda:InvokeFunction" in as_list(s["Action"])]
    assert [ref_target(r) for s in invoke for r in as_list(s["Resource"])] == [
        function_by_module(synthesized, "event_emitter")
    ]
    (start,) = [s for s in statements if "states:StartExecution" in as_list(s["Action"])]
    own_arn = json.dumps(start["Resource"])
    assert f"stateMachine:{state_machine_name(synthesized.config)}" in own_arn


def test_schedule_asks_the_starter_at_nine_ist_every_day_the_calendar_decides(
    synthesized: Synthesized,
) -> None:
    synthesized.assertions().has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "cron(0 9 ? * SUN-SAT *)",
            "ScheduleExpressionTimezone": "Asia/Kolkata",
            "State": "ENABLED",
            "Target": Match.object_like({"RetryPolicy": Match.object_like({"MaximumRetryAttempts": 3})}),
        },
    )
    schedules = {
        s["Properties"]["ScheduleExpression"]: s["Properties"]
        for s in synthesized.of_type("AWS::Scheduler::Schedule").values()
    }
    if manages_broker_sessions(synthesized.config):
        assert set(schedules) == {"cron(0 9 ? * SUN-SAT *)", "cron(0 16 ? * SUN-SAT *)"}
        logout = schedules["cron(0 16 ? * SUN-SAT *)"]
        assert json.loads(logout["Target"]["Input"]) == {"action": END_OF_DAY_ACTION}
        assert ref_target(logout["Target"]["Arn"]) == function_by_module(synthesized, "timer_starter")
    else:  # the auth stack keeps the sessions and logs them out
        assert set(schedules) == {"cron(0 9 ? * SUN-SAT *)"}
    properties = schedules["cron(0 9 ? * SUN-SAT *)"]
    assert properties["ScheduleExpression"] == "cron(0 9 ? * SUN-SAT *)"
    assert properties["ScheduleExpressionTimezone"] == "Asia/Kolkata"
    assert properties["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert ref_target(properties["Target"]["Arn"]) == function_by_module(synthesized, "timer_starter")
    scheduler_role = ref_target(properties["Target"]["RoleArn"]) or ""
    trust = synthesized.resources[scheduler_role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"]["Service"] for s in trust] == ["scheduler.amazonaws.com"]
    actions = {
        a for s in policy_statements_of_role(synthesized, scheduler_role) for a in as_list(s["Action"])
    }
    assert actions == {"lambda:InvokeFunction", "sqs:SendMessage"}


def test_only_the_starter_may_start_executions(synthesized: Synthesized) -> None:
    starter = synthesized.resources[function_by_module(synthesized, "timer_starter")]
    statements = policy_statements_of_role(synthesized, ref_target(starter["Properties"]["Role"]) or "")
    (start,) = [s for s in statements if "states:StartExecution" in as_list(s["Action"])]
    (machine_id,) = synthesized.of_type("AWS::StepFunctions::StateMachine")
    assert [ref_target(r) for r in as_list(start["Resource"])] == [machine_id]
    emitter = synthesized.resources[function_by_module(synthesized, "event_emitter")]
    emitter_statements = policy_statements_of_role(
        synthesized, ref_target(emitter["Properties"]["Role"]) or ""
    )
    (put,) = [s for s in emitter_statements if "events:PutEvents" in as_list(s["Action"])]
    (bus_id,) = synthesized.of_type("AWS::Events::EventBus")
    assert [ref_target(r) for r in as_list(put["Resource"])] == [bus_id]
