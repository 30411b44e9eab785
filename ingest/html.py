"""HTML loading with the standard library's parser: headings as structure, page chrome dropped."""

from __future__ import annotations

from html.parser import HTMLParser

from ingest.model import Line

_SKIP = {"script", "style", "nav", "header", "footer", "aside", "form", "noscript", "template", "svg",
         "button", "select", "iframe"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 4, "h6": 4}
_BLOCKS = {"p", "li", "tr", "dt", "dd", "blockquote", "pre", "div", "section", "article", "br", "table",
           "ul", "ol", "dl", "figcaption", "caption", "address"}
_VOID = {"br", "img", "hr", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr"}


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, int | None, str | None, bool]] = []  # text, heading level, anchor, in_main
        self.title: str | None = None
        self._skip_depth = 0
        self._stack: list[str] = []
        self._main_depth = 0
        self._buf: list[str] = []
        self._heading: tuple[int, str | None] | None = None
        self._in_title = False
        self._cell_open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        hidden = "hidden" in attr or attr.get("aria-hidden") == "true" or attr.get("role") == "navigation"
        if tag not in _VOID:
            self._stack.append(tag)
        if self._skip_depth or tag in _SKIP or hidden:
            if tag not in _VOID:
                self._skip_depth += 1
            return
        if tag == "title":
            self._in_title = True
        elif tag == "main" or attr.get("role") == "main":
            self._main_depth += 1
        if tag in _HEADINGS:
            self._flush()
            self._heading = (_HEADINGS[tag], attr.get("id"))
        elif tag in _BLOCKS:
            self._flush()
        elif tag in {"td", "th"}:
            if self._cell_open:
                self._buf.append(" | ")
            self._cell_open = True

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID or tag not in self._stack:
            return
        while self._stack:
            open_tag = self._stack.pop()
            if self._skip_depth:
                self._skip_depth -= 1
                if open_tag == tag:
                    return
                continue
            if open_tag == "title":
                self._in_title = False
            if open_tag == "main":
                self._main_depth -= 1
            if open_tag in _HEADINGS or open_tag in _BLOCKS:
                self._flush()
            if open_tag == "tr":
                self._cell_open = False
            if open_tag == tag:
                return

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._in_title:
            self.title = ((self.title or "") + data).strip()
            return
        self._buf.append(data)

    def _flush(self) -> None:
        text = " ".join("".join(self._buf).split())
        self._buf = []
        self._cell_open = False
        heading, self._heading = self._heading, None
        if text.strip(" |"):
            level, anchor = heading if heading else (None, None)
            self.blocks.append((text.strip(" |"), level, anchor, self._main_depth > 0))

    def close(self) -> None:
        super().close()
        self._flush()


def load_html(text: str) -> tuple[list[Line], str | None]:
    """Lines of an HTML page's content. When the page has a <main>, only its content counts."""
    parser = _PageParser()
    parser.feed(text)
    parser.close()
    blocks = parser.blocks
    if any(in_main for *_, in_main in blocks):
        blocks = [b for b in blocks if b[3]]
    lines = [Line(text=t, heading_level=level, anchor=anchor, block_start=True) for t, level, anchor, _ in blocks]
    h1 = next((ln.text for ln in lines if ln.heading_level == 1), None)
    return lines, h1 or parser.title
