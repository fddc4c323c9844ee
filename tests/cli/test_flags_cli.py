"""``tickwork flags``: set, list and delete flags from the command line; bad input exits 2
with one line naming the problem."""

from __future__ import annotations

from tests.support.cli import InProcessCli


def test_flags_are_set_listed_and_deleted_as_the_cli(tickwork: InProcessCli) -> None:
    assert tickwork("flags", "set", "reports", "on", "--description", "nightly").code == 0
    [flag] = tickwork("flags", "list", "--json").json()
    assert (flag["name"], flag["enabled"], flag["updated_by"]) == ("reports", True, "cli")
    assert flag["description"] == "nightly"
    assert tickwork("flags", "delete", "reports").code == 0
    assert tickwork("flags", "list", "--json").json() == []


def test_bad_flag_input_exits_2_with_one_line(tickwork: InProcessCli) -> None:
    maybe = tickwork("flags", "set", "reports", "maybe").error_line()
    assert maybe.lower() == "error: state must be on or off, not 'maybe'"
    bad_name = tickwork("flags", "set", "bad name", "on").error_line()
    assert bad_name.startswith("error (name): a flag name is 1-200 letters")
    missing = tickwork("flags", "delete", "reports").error_line()
    assert missing == "error (name): flag 'reports' not found"
