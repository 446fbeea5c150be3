"""CSV downloads of what a page shows (the MFA coverage, the audit trail).

Spreadsheets run a cell that starts with = + - @ (or a tab or carriage return) as a
formula, so such cells get a leading apostrophe (OWASP's CSV injection advice): a name
typed as `=HYPERLINK(...)` stays text. Values are the page's own, masked as shown.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence

from django.http import StreamingHttpResponse

from deskgate.accounts.actions.imports import safe_cell


class _Echo:
    """A file that hands back what csv.writer writes, for streaming line by line."""

    def write(self, value: str) -> str:
        return value


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> StreamingHttpResponse:
    """A download of `rows` under `header`, streamed (a long audit trail is never held in
    memory whole), UTF-8 with a byte order mark so that spreadsheets read ä and • right."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff" + writer.writerow([safe_cell(h) for h in header])
        for row in rows:
            yield writer.writerow([safe_cell(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
