"""Console output shared by the commands: rich for people, plain JSON for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

from rich.console import Console

from univoice.errors import FlowValidationError, UnivoiceError

# soft_wrap: an error stays one line (for grep and CI logs) whatever the terminal width.
stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def issue_lines(exc: FlowValidationError) -> list[str]:
    prefix = f"{exc.source}: " if exc.source else ""
    return [f"{prefix}{issue}" for issue in exc.issues]


def fail(exc: UnivoiceError, code: int = 1) -> NoReturn:
    """Print an error as one line per problem (no traceback) and exit."""
    if isinstance(exc, FlowValidationError):
        for line in issue_lines(exc):
            stderr.print(f"error: {line}", markup=False)
    else:
        stderr.print(f"error: {exc}", markup=False)
    raise SystemExit(code)
