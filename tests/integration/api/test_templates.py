from __future__ import annotations

ROUTE = "/options/strategy-templates"


def test_templates_come_with_legs_ready_to_post(api):
    response = api("GET", ROUTE)

    assert response.status == 200
    by_name = {item["name"]: item for item in response.body["items"]}
    assert {"IRON_CONDOR", "SHORT_STRADDLE", "SHORT_STRANGLE", "COVERED_CALL", "CASH_SECURED_PUT"} <= set(
        by_name
    )
    condor = by_name["IRON_CONDOR"]["legs"]
    assert len(condor) == 4
    assert {(leg["action"], leg["option_type"]) for leg in condor} == {
        ("SELL", "CE"),
        ("BUY", "CE"),
        ("SELL", "PE"),
        ("BUY", "PE"),
    }
    assert all(leg["expiry"] == "CURRENT_WEEKLY" for leg in condor)


def test_expiry_can_be_chosen(api):
    response = api("GET", ROUTE, query={"expiry": "CURRENT_MONTHLY"})

    assert response.status == 200
    assert {leg["expiry"] for item in response.body["items"] for leg in item["legs"]} == {"CURRENT_MONTHLY"}


def test_unknown_expiry_is_a_422_naming_the_parameter(api):
    response = api("GET", ROUTE, query={"expiry": "YEARLY"})

    assert response.status == 422
    assert response.body["code"] == "VALIDATION_ERROR"
    assert [detail["field"] for detail in response.body["details"]] == ["expiry"]


def test_templates_need_an_identity(api):
    response = api("GET", ROUTE, user=None)

    assert response.status == 401
