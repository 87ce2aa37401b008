"""synapsectl's own numeric flags (line counts, chart sizes) are ranged: a usage error, not a traceback."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synapsectl.cli.common import int_in
from tests.support.daemon import REPO


@pytest.mark.parametrize("argv", [
    ["logs", "-n", "-5"],  # deque(maxlen=-5) raised ValueError
    ["logs", "-n", "99999999999999999999"],  # OverflowError
    ["usage", "chart", "--days", "0"],
    ["usage", "chart", "--days", "100000000"],  # the first day fell before year 1: OverflowError
    ["usage", "chart", "--width", "-5"],  # a negative format width: ValueError
    ["service", "logs", "-n", "-1"],
])
def test_an_out_of_range_number_is_a_usage_error_naming_the_range(tmp_path: Path, argv: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "synapsectl", *argv], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "SYNAPSE_HOME": str(tmp_path)}, cwd=REPO)
    assert done.returncode == 2 and "must be from" in done.stderr and "Traceback" not in done.stderr


def test_int_in_takes_its_bounds_and_refuses_what_is_not_a_number() -> None:
    lines = int_in(0, 10)
    assert (lines("0"), lines("10")) == (0, 10)
    for text in ("-1", "11", "1.5", "ten"):
        with pytest.raises(argparse.ArgumentTypeError):
            lines(text)
