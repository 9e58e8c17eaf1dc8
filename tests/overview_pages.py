"""Reading the Overview as a person does: its figures (numbers that are links) and the rows behind each link.
Shared by the Overview tests (tests import helpers, never other test modules)."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

ROW_LINK = {
    "events": re.compile(r'href="/events/\d+/"'),
    "notifications": re.compile(r'href="/notifications/\d+/"'),
    "images": re.compile(r'href="/images/\d+/"'),
    "image": re.compile(r'href="/events/\d+/"'),  # one image's findings: each row opens an event
}
NEXT_PAGE = re.compile(r'href="(\?[^"]*)"[^>]*>(?:Next|Older events →)<')
NUMBER_FIRST = re.compile(r"^\s*([\d,]+)(?:\s|$)")
NUMBER_IN_TITLE = re.compile(r": ([\d,]+) [^:]*$")


class Figures(HTMLParser):
    """Every link of the page's main part whose text (or SVG title) is a number: (number, href, text)."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, list[str]]] = []
        self.figures: list[tuple[int, str, str]] = []
        self.in_main = False

    def handle_starttag(self, tag, attrs):
        if tag == "main":
            self.in_main = True
        if tag == "a" and self.in_main:
            self.stack.append((dict(attrs)["href"], []))

    def handle_data(self, data):
        if self.stack:
            self.stack[-1][1].append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self.stack:
            href, parts = self.stack.pop()
            text = " ".join("".join(parts).split())
            match = NUMBER_FIRST.match(text) or NUMBER_IN_TITLE.search(text)
            if match:
                self.figures.append((int(match.group(1).replace(",", "")), href, text))


def figures_of(html: str) -> list[tuple[int, str, str]]:
    parser = Figures()
    parser.feed(html)
    return parser.figures


def rows_behind(client, href: str) -> int:
    """Open ``href`` and count its rows, following its pages."""
    path = href.split("?")[0]
    kind = {"/events/": "events", "/notifications/": "notifications", "/images/": "images"}.get(path)
    if kind is None and re.fullmatch(r"/images/\d+/", path):
        kind = "image"
    assert kind, f"unexpected link target {href}"
    total, url = 0, href
    while url:
        answer = client.get(url)
        assert answer.status_code == 200, url
        page = answer.content.decode()
        table = page[page.index("<table") : page.index("</table>")]
        total += len(ROW_LINK[kind].findall(table))
        following = NEXT_PAGE.search(page)
        url = path + unescape(following.group(1)) if following else None
    return total
