"""The reply QR code: encoded by segno, drawn on a reportlab canvas as one filled path.

segno encodes a reply link in under 1 ms with a fixed mask, where reportlab's own QR widget takes ~80 ms
(performance.md), and one path of run-length rectangles keeps the PDF small and the drawing cheap (not one rect
object per module).

Every reply link has the same length, so every symbol has the same version, error level and mask: only the data
modules differ. segno's `make` builds the whole symbol each time (the matrix, the finder and alignment patterns, the
placement walk, the mask over every module). Here the symbol without its data is made once per version (`_template`,
by segno's own functions: the placement order is read back from segno's walk), and a letter only needs segno's final
message (the data and error-correction bits) written to the template's positions with the mask's bit: ~40 % less
time a code (issue 16). `tests/unit/test_qr_template.py` holds the result equal to `segno.make`'s, module for module.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from reportlab.lib import colors
from reportlab.pdfgen.canvas import Canvas
from segno import consts
from segno import encoder as segno_encoder

#: Light modules around the symbol; the QR specification asks for at least four.
QUIET_ZONE = 4
#: The data mask, fixed. Any of the eight masks gives a valid symbol; choosing the best one means applying and
#: scoring all eight, which is 80 % of segno's time (4.1 ms a code here, 0.75 ms with the mask given). Mask 2 is
#: the one segno picks most often for our reply links (73 of 400 random links; mask 0 only 7 times), and the
#: decoding test in tests/unit/test_letter_render.py reads the printed code with it.
QR_MASK = 2


#: segno's encoder module: its functions carry no annotations (as Any, mypy checks our side of the calls).
encoder: Any = segno_encoder
_ERROR: int = consts.ERROR_LEVEL_M
_DARK_RUN = re.compile(rb"\x01+")


@functools.cache
def _template(version: int) -> tuple[tuple[bytes, ...], tuple[tuple[int, int, int], ...]]:
    """The symbol of `version` without its data (function patterns, format and version information, data modules
    light), and the data modules in segno's placement order, each with the mask's bit: (row, column, mask bit)."""
    size = encoder.calc_matrix_size(version)
    matrix = encoder.make_matrix(size, size)
    encoder.add_finder_patterns(matrix, size, size)
    encoder.add_alignment_patterns(matrix, size, size)
    # segno's walk writes codeword k into the k-th free module (0x2); in rows of ints it can write the numbers
    # 3, 4, ... so that each module says its place in the order.
    probe = tuple(list(row) for row in matrix)
    free = sum(module == 0x2 for row in probe for module in row)
    encoder.add_codewords(probe, range(3, 3 + free), version)
    mask = encoder.get_data_mask_functions(False)[QR_MASK]
    placed = sorted((probe[i][j], i, j) for i in range(size) for j in range(size) if probe[i][j] >= 3)
    positions = tuple((i, j, int(mask(i, j))) for _, i, j in placed)
    for i, j, _ in positions:
        matrix[i][j] = 0
    encoder.add_format_info(matrix, version, _ERROR, QR_MASK)
    encoder.add_version_info(matrix, version)
    return tuple(bytes(row) for row in matrix), positions


def _final_message(data: str) -> tuple[int, bytearray]:
    """segno's version for `data` and its final message: the bits of the data and error-correction codewords, as
    segno's `_encode` makes them (the same calls, in the same order)."""
    segments = encoder.prepare_data(data, None, None)
    version = encoder.find_version(segments, _ERROR, eci=False, micro=False)
    buff = encoder.Buffer()
    ver_range = encoder.version_range(version)
    for segment in segments:
        encoder.write_segment(buff, segment, None, ver_range, False)
    capacity = encoder.consts.SYMBOL_CAPACITY[version][_ERROR]
    encoder.write_terminator(buff, capacity, None, len(buff))
    encoder.write_padding_bits(buff, version, len(buff))
    encoder.write_pad_codewords(buff, version, capacity, len(buff))
    return version, encoder.make_final_message(version, _ERROR, buff)


def qr_matrix(data: str) -> tuple[bytearray, ...]:
    """The module matrix (1 = dark) without the quiet zone: error correction M, never a Micro QR, mask QR_MASK."""
    version, bits = _final_message(data)
    base, positions = _template(version)
    rows = tuple(bytearray(row) for row in base)
    for (i, j, mask_bit), bit in zip(positions, bits, strict=True):
        rows[i][j] = bit ^ mask_bit
    return rows


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
    ops = [
        f"{run.start()} {modules - 1 - row_index} {run.end() - run.start()} 1 re"
        for row_index, row in enumerate(matrix)
        for run in _DARK_RUN.finditer(row)  # the runs found in C, not module by module in Python
    ]
    ops.append("f")
    canvas.addLiteral(" ".join(ops))
    canvas.restoreState()
