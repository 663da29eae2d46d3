"""Small helpers for tests that read the HTML report: element text and attributes by id, without a browser."""
from __future__ import annotations

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Tree(HTMLParser):
    """Collects, for every element with an id, its text and the tags (with attributes) inside it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None]] = []
        self.text: dict[str, list[str]] = {}
        self.tags: dict[str, list[tuple[str, dict]]] = {}
        self.all_tags: list[tuple[str, dict]] = []

    def _open_ids(self) -> list[str]:
        return [i for _, i in self.stack if i]

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.all_tags.append((tag, a))
        for i in self._open_ids():
            self.tags[i].append((tag, a))
        if tag in VOID:
            return
        ident = a.get("id")
        if ident:
            self.text.setdefault(ident, [])
            self.tags.setdefault(ident, [])
        self.stack.append((tag, ident))

    def handle_endtag(self, tag):
        for k in range(len(self.stack) - 1, -1, -1):
            if self.stack[k][0] == tag:
                del self.stack[k:]
                return

    def handle_data(self, data):
        for i in self._open_ids():
            self.text[i].append(data)


def parse(html: str) -> _Tree:
    tree = _Tree()
    tree.feed(html)
    tree.close()
    return tree


def text_of(html: str, ident: str) -> str:
    """The text inside the element with this id, whitespace collapsed (KeyError when no such element)."""
    return " ".join("".join(parse(html).text[ident]).split())


def tags_in(html: str, ident: str, tag: str) -> list[dict]:
    return [a for t, a in parse(html).tags[ident] if t == tag]
