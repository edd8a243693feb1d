"""Run names are built and read in one place: what one side writes, the other reads back."""

from __future__ import annotations

import pytest

from shared_utils.execution.run_names import ENTRY_RUN, exit_run_name, is_entry, leg_of


@pytest.mark.parametrize(
    ("leg_no", "number", "name"),
    [(None, 1, "EXIT"), (None, 3, "EXIT-3"), (2, 1, "LEGSL2"), (12, 2, "LEGSL12-2")],
)
def test_an_exit_run_name_reads_back_as_its_leg(leg_no: int | None, number: int, name: str) -> None:
    assert exit_run_name(leg_no, number) == name
    assert leg_of(name) == leg_no
    assert not is_entry(name)


def test_the_entry_is_no_leg_exit() -> None:
    assert is_entry(ENTRY_RUN) and leg_of(ENTRY_RUN) is None
