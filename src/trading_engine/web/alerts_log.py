"""Reads ``models/alerts.log`` (the seed's format, written by ``alerts.FileAlertSink``).

An entry is ``[YYYY-mm-dd HH:MM:SS] Title``, then ``<emoji> headline``, then optional lines.
Only the file's tail is read: the log is append-only and grows for ever.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

HEADER = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\] (.+)$", re.MULTILINE)
TAIL_BYTES = 512 * 1024


@dataclass(frozen=True)
class AlertEntry:
    at: str
    title: str
    emoji: str
    headline: str
    lines: list[str]


def parse_alerts(text: str) -> list[AlertEntry]:
    """Entries oldest first; text before the first header (a cut entry) is dropped."""
    headers = list(HEADER.finditer(text))
    entries = []
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        body = text[header.end() : end].strip("\n").splitlines()
        first = body[0] if body else ""
        emoji, _, headline = first.partition(" ")
        entries.append(
            AlertEntry(
                at=header.group(1),
                title=header.group(2).strip(),
                emoji=emoji,
                headline=headline,
                lines=[line for line in body[1:] if line.strip()],
            )
        )
    return entries


def read_alerts(path: Path, limit: int = 200) -> tuple[list[AlertEntry], bool]:
    """The newest ``limit`` entries, newest first, and whether older ones were left out."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - TAIL_BYTES))
            data = handle.read()
    except FileNotFoundError:
        return [], False
    entries = parse_alerts(data.decode("utf-8", errors="replace"))
    truncated = size > TAIL_BYTES or len(entries) > limit
    return entries[::-1][:limit], truncated
