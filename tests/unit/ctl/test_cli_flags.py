"""synapsectl's global flags, which need no daemon."""

from __future__ import annotations

import pytest

from synapsectl.cli import commands, stdio
from synapsed import __version__


@pytest.mark.parametrize("main", [commands.main, stdio.main], ids=["full CLI", "mcp stdio entry"])
def test_version_prints_the_installed_version_and_exits_0(main: object, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])  # type: ignore[operator]
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"synapsectl {__version__}\n"
