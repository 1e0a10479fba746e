"""Reading what the provider emits for operators: JSON log lines and Prometheus samples."""

from __future__ import annotations

import json
import re


def json_lines(err: str) -> list[dict]:
    """The JSON log lines in captured stderr (other output is ignored)."""
    lines = []
    for line in err.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def sample(body: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in body.splitlines():
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = ",".join(sorted((match.group(3) or "").split(","))) if match.group(3) else ""
        if found == wanted:
            return float(match.group(4))
    return 0.0
