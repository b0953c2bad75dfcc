"""CSV exports that people open in a spreadsheet (the Q&A export, the cash-outs).

A cell whose text starts like a formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage
return) would be run by Excel or LibreOffice when the file is opened — "CSV
injection": a question or a payout address typed as ``=HYPERLINK(…)`` must stay text.
Such cells get a leading quote, which spreadsheets show as text and hide.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> str | int:
    """A value a spreadsheet shows as text (numbers pass unchanged)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
