"""Template filters for message formats: CEF escaping, syslog priority, Slack and Teams (markdown) escaping.

Every variable of a chat template goes through its format's filter (``|slack``, ``|teams``), so nothing an event
carries (a finding id, a package name) can become a link, a mention or formatting of its own.
"""

from __future__ import annotations

import re

from django import template

register = template.Library()

# Every line boundary of str.splitlines(): a SIEM (or anything reading the records line by line) may cut a record at
# any of them, so none may reach a record from a value (CR LF first, so it becomes one escape, not two).
_LINE_BREAKS = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")

# CEF severity (0-10) and syslog severity (RFC 5424) for our severity values (unknown=0 … critical=5).
_CEF_SEVERITY = {0: 0, 1: 1, 2: 3, 3: 5, 4: 8, 5: 10}
_SYSLOG_SEVERITY = {0: 6, 1: 6, 2: 5, 3: 4, 4: 3, 5: 2}  # info, info, notice, warning, error, critical
SYSLOG_FACILITY_LOCAL0 = 16


@register.filter
def cef_header(value) -> str:
    """A CEF header field: backslash and pipe escaped, whitespace runs (every line break among them) as one space."""
    text = " ".join(_LINE_BREAKS.sub(" ", str(value if value is not None else "")).split())
    return text.replace("\\", "\\\\").replace("|", "\\|")


@register.filter
def cef_value(value) -> str:
    """A CEF extension value: backslash and equals escaped, every line break (see ``_LINE_BREAKS``) as \\n."""
    text = str(value if value is not None else "")
    text = text.replace("\\", "\\\\").replace("=", "\\=")
    return _LINE_BREAKS.sub(lambda _: "\\n", text)


@register.filter
def cef_severity(severity_value: int) -> int:
    return _CEF_SEVERITY.get(int(severity_value), 0)


@register.filter
def syslog_pri(severity_value: int) -> int:
    """The syslog PRI of an event: facility local0, severity from the event's."""
    return SYSLOG_FACILITY_LOCAL0 * 8 + _SYSLOG_SEVERITY.get(int(severity_value), 6)


def _one_line(value) -> str:
    """The value as text on one line: a value cannot start a line of its own in a chat message."""
    return _LINE_BREAKS.sub(" ", str(value if value is not None else ""))


@register.filter
def slack(value) -> str:
    """Text safe inside Slack mrkdwn: the three characters Slack asks to escape (so no ``<url|label>`` link, no
    ``<!channel>`` or ``<@user>`` mention can come from a value), on one line."""
    return _one_line(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Markdown's punctuation that makes links, images, emphasis, code, HTML, headings, strike-through and tables.
_TEAMS_SPECIAL = re.compile(r"([\\`*_\[\](){}<>#~|!])")


@register.filter
def teams(value) -> str:
    """Text safe inside Teams (Adaptive Card) markdown: its special characters backslash-escaped, so
    ``[label](url)``, ``**bold**`` or ``<url>`` in a value shows as typed; on one line."""
    return _TEAMS_SPECIAL.sub(r"\\\1", _one_line(value))
