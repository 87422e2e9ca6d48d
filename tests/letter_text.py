"""A letter as a reader reads it, without the layout: subject, headings, paragraphs, list items, facts."""

from __future__ import annotations

from schulden.letters.templates import BulletList, Facts, Heading, Paragraph, RenderedText


def text_of(rendered: RenderedText) -> str:
    parts = [rendered.subject]
    for block in rendered.blocks:
        if isinstance(block, Paragraph | Heading):
            parts.append(block.text)
        elif isinstance(block, BulletList):
            parts.extend(block.items)
        elif isinstance(block, Facts):
            parts.extend(f"{label}: {value}" for label, value in block.rows)
    return "\n".join(parts)
