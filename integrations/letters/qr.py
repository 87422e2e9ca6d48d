"""The reply QR code: encoded by segno, drawn on a reportlab canvas as one filled path.

segno encodes a reply link in under 1 ms with a fixed mask, where reportlab's own QR widget takes ~80 ms
(performance.md), and one path of run-length rectangles keeps the PDF small and the drawing cheap (not one rect
object per module).
"""

from __future__ import annotations

import segno
from reportlab.lib import colors
from reportlab.pdfgen.canvas import Canvas

#: Light modules around the symbol; the QR specification asks for at least four.
QUIET_ZONE = 4
#: The data mask, fixed. Any of the eight masks gives a valid symbol; choosing the best one means applying and
#: scoring all eight, which is 80 % of segno's time (4.1 ms a code here, 0.75 ms with the mask given). Mask 2 is
#: the one segno picks most often for our reply links (73 of 400 random links; mask 0 only 7 times), and the
#: decoding test in tests/unit/test_letter_render.py reads the printed code with it.
QR_MASK = 2


def qr_matrix(data: str) -> tuple[tuple[bool, ...], ...]:
    """The module matrix (True = dark) without the quiet zone: error correction M, never a Micro QR."""
    code = segno.make(data, error="m", micro=False, boost_error=False, mask=QR_MASK)
    return tuple(tuple(bool(module) for module in row) for row in code.matrix)


def draw_qr(canvas: Canvas, x: float, y: float, size: float, data: str, *, quiet_zone: int = QUIET_ZONE) -> None:
    """Draw `data` as a QR code in the square with lower-left corner (x, y) and side `size` (quiet zone included).

    The quiet zone is painted white, then every dark module goes into ONE path that is filled once: each horizontal
    run of dark modules is one rectangle. The path is written in module units under a scaling transform, so its
    coordinates are small integers ("col row width 1 re") and the content stream stays short and cheap to build.
    """
    matrix = qr_matrix(data)
    modules = len(matrix)
    unit = size / (modules + 2 * quiet_zone)
    canvas.saveState()
    canvas.setFillColor(colors.white)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColor(colors.black)
    # Module (col, row) of the symbol, row 0 at the top, becomes the unit square at (col, modules - 1 - row).
    canvas.transform(unit, 0, 0, unit, x + quiet_zone * unit, y + quiet_zone * unit)
    ops: list[str] = []
    for row_index, row in enumerate(matrix):
        row_y = modules - 1 - row_index
        column = 0
        while column < modules:
            if not row[column]:
                column += 1
                continue
            start = column
            while column < modules and row[column]:
                column += 1
            ops.append(f"{start} {row_y} {column - start} 1 re")
    ops.append("f")
    canvas.addLiteral(" ".join(ops))
    canvas.restoreState()
