"""Run the CLI in-process, as the `univoice` console script would, and capture it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from univoice.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:  # main always exits; reaching here is a bug in main
            raise AssertionError("main() returned without exiting")
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
