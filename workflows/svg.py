"""A process definition as an inline SVG diagram, with the current state marked (the case page, issue 6).

Server-side and without script: the page's CSP forbids inline script and inline style attributes, so the drawing
uses SVG presentation attributes as defaults and CSS classes (`wf-*`) the application's stylesheet may refine.

Layout, deterministic and generic:
- Only edges between two distinct, named states are drawn. Internal transitions and self-loops change no state;
  transitions from ANY state, back to PREVIOUS, or from more than `fan_in_limit` states would cover the drawing
  with arrows, so they are written as notes under it instead.
- Back edges (found by a depth-first walk from the initial state, in definition order) are set aside, which leaves
  an acyclic graph; each state's row is its longest distance from the initial state in that graph.
- The longest path from the initial state is the main column; other states go into further columns, in the row
  of their depth. Arrows between neighbouring rows of the main column are straight; other arrows within a column
  run through lanes beside it, arrows between columns run straight from side to side.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape

from workflows.definition import ANY, PREVIOUS, Process, State, Transition

BOX_HEIGHT = 40
ROW_GAP = 28
COLUMN_GAP = 90
LANE_GAP = 10
MARGIN = 12
#: An upper estimate of the width of one character at 13px sans-serif, so labels fit their boxes.
CHAR_WIDTH = 7.6
NOTE_CHAR_WIDTH = 6.9
NOTE_LINE_HEIGHT = 17
NOTE_WRAP = 72
CURRENT_MARK = " (nu)"


#: Characters XML 1.0 does not allow at all; escaping cannot save them, so they are dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _esc(text: str) -> str:
    return escape(_NOT_XML.sub("", text), quote=True)


def _num(value: float) -> str:
    # Fixed formatting keeps the output byte-for-byte stable (and short).
    return f"{value:.1f}".rstrip("0").rstrip(".")


@dataclass
class _Edge:
    source: str
    target: str
    labels: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    width: float

    @property
    def centre_x(self) -> float:
        return self.x + self.width / 2

    @property
    def bottom(self) -> float:
        return self.y + BOX_HEIGHT


def _label(transition: Transition) -> str:
    return transition.label or transition.event


def _split(process: Process, fan_in_limit: int) -> tuple[list[_Edge], list[str]]:
    """The drawn edges (one per pair of states, in definition order) and the notes for the wildcard transitions."""
    state_label = {s.name: s.label or s.name for s in process.states}
    edges: dict[tuple[str, str], _Edge] = {}
    notes: list[str] = []
    for transition in process.transitions:
        if transition.internal:
            continue
        sources = [s for s in process.sources_of(transition) if s != transition.target]
        if not sources:
            continue
        label = _label(transition)
        if transition.target == PREVIOUS:
            names = ", ".join(state_label[s] for s in sources)
            notes.append(f"{label}: vanuit {names} terug naar de vorige status")
            continue
        target_label = state_label[transition.target]
        if ANY in transition.sources:
            notes.append(f"{label}: vanuit elke open status naar {target_label}")
            continue
        if len(sources) > fan_in_limit:
            names = ", ".join(state_label[s] for s in sources)
            notes.append(f"{label}: vanuit {names} naar {target_label}")
            continue
        for source in sources:
            edge = edges.setdefault((source, transition.target), _Edge(source, transition.target))
            if label not in edge.labels:
                edge.labels.append(label)
    return list(edges.values()), notes


def _layers(process: Process, edges: list[_Edge]) -> tuple[dict[str, int], list[str]]:
    """Each state's row and the main column (the longest path from the initial state)."""
    order = {s.name: i for i, s in enumerate(process.states)}
    successors: dict[str, list[str]] = {s.name: [] for s in process.states}
    for edge in edges:
        successors[edge.source].append(edge.target)
    # Depth-first from the initial state, then from any state it cannot reach; edges to a state still on the
    # stack close a cycle and are left out of the layering.
    forward: dict[str, list[str]] = {name: [] for name in successors}
    finished: list[str] = []
    status: dict[str, int] = {}  # 1 on the stack, 2 done
    roots = [process.initial] + [s.name for s in process.states if s.name != process.initial]
    for root in roots:
        if root in status:
            continue
        status[root] = 1
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, index = stack[-1]
            if index < len(successors[node]):
                stack[-1] = (node, index + 1)
                nxt = successors[node][index]
                if status.get(nxt) == 1:
                    continue
                forward[node].append(nxt)
                if nxt not in status:
                    status[nxt] = 1
                    stack.append((nxt, 0))
            else:
                status[node] = 2
                finished.append(node)
                stack.pop()
    topological = list(reversed(finished))
    layer = dict.fromkeys(successors, 0)
    for node in topological:
        for nxt in forward[node]:
            layer[nxt] = max(layer[nxt], layer[node] + 1)
    height = dict.fromkeys(successors, 0)
    for node in finished:  # successors before their sources
        for nxt in forward[node]:
            height[node] = max(height[node], height[nxt] + 1)
    spine = [process.initial]
    while forward[spine[-1]]:
        best = max(forward[spine[-1]], key=lambda n: (height[n], -order[n]))
        if layer[best] != layer[spine[-1]] + 1:
            break
        spine.append(best)
    return layer, spine


def _wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` characters (a longer word gets a line of its own)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and len(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _assign_lanes(spans: list[tuple[int, int]]) -> list[int]:
    """Greedy interval colouring: spans that share no row share a lane; shorter spans get inner lanes."""
    order = sorted(range(len(spans)), key=lambda i: (spans[i][1] - spans[i][0], spans[i][0], spans[i][1], i))
    lanes: list[list[tuple[int, int]]] = []
    result = [0] * len(spans)
    for i in order:
        low, high = spans[i]
        for number, taken in enumerate(lanes):
            if all(high < a or low > b for a, b in taken):
                taken.append((low, high))
                result[i] = number
                break
        else:
            lanes.append([(low, high)])
            result[i] = len(lanes) - 1
    return result


class _Ports:
    """Spreads the ends of arrows over a side of a box, so arrows meeting one box do not overlap."""

    def __init__(self) -> None:
        self._requests: dict[tuple[str, str], list[int]] = {}

    def request(self, state: str, side: str, key: int) -> None:
        self._requests.setdefault((state, side), []).append(key)

    def offset(self, state: str, side: str, key: int) -> float:
        keys = self._requests[(state, side)]
        return BOX_HEIGHT * (keys.index(key) + 1) / (len(keys) + 1)


def _columns(process: Process, layer: dict[str, int], spine: list[str]) -> dict[str, int]:
    """The main column is 0; every other state goes into the next free column of its row, in definition order."""
    column: dict[str, int] = dict.fromkeys(spine, 0)
    in_layer: dict[int, int] = {}
    for state in process.states:
        if state.name not in column:
            in_layer[layer[state.name]] = in_layer.get(layer[state.name], 0) + 1
            column[state.name] = in_layer[layer[state.name]]
    return column


def _box_width(process: Process, labels: dict[str, str], current: str | None) -> int:
    """One width for every box: the longest label (with the current state's mark) fits, and at least 12 characters."""
    longest = max(len(labels[s.name]) + (len(CURRENT_MARK) if s.name == current else 0) for s in process.states)
    return round(16 + CHAR_WIDTH * max(longest, 12))


def _gutter(lane_of: dict[int, int]) -> int:
    """The room the lanes of one side take: a gap per lane, plus one when there are lanes at all."""
    return (max(lane_of.values(), default=-1) + 1) * LANE_GAP + (LANE_GAP if lane_of else 0)


@dataclass
class _Geometry:
    """Where everything goes: rows, columns, lanes, boxes and the ends of the arrows."""

    edges: list[_Edge]
    layer: dict[str, int]
    column: dict[str, int]
    left_lane_of: dict[int, int]
    right_lane_of: dict[int, int]
    left_gutter: float
    diagram_right: float
    diagram_bottom: float
    boxes: dict[str, _Box]
    plans: list[tuple[str, str]] = field(default_factory=list)  # (side at the source, side at the target)
    ports: _Ports = field(default_factory=_Ports)

    def point(self, state: str, side: str, i: int) -> tuple[float, float]:
        box = self.boxes[state]
        if side == "top":
            return box.centre_x, box.y
        if side == "bottom":
            return box.centre_x, box.bottom
        y = box.y + self.ports.offset(state, side, i)
        return (box.x if side == "left" else box.x + box.width), y

    def path(self, i: int) -> list[tuple[float, float]]:
        """The points of arrow `i`: straight, or out to its lane, along it and back in."""
        edge = self.edges[i]
        start = self.point(edge.source, self.plans[i][0], i)
        end = self.point(edge.target, self.plans[i][1], i)
        if i in self.left_lane_of:
            lane_x = self.left_gutter - LANE_GAP * (self.left_lane_of[i] + 1)
        elif i in self.right_lane_of:
            lane_x = self.diagram_right + LANE_GAP * (self.right_lane_of[i] + 1)
        else:
            return [start, end]
        return [start, (lane_x, start[1]), (lane_x, end[1]), end]


def _lanes(edges: list[_Edge], layer: dict[str, int], column: dict[str, int]) -> tuple[dict[int, int], dict[int, int]]:
    """The lane of each edge that runs beside its column (same column, unless straight down to the next row):
    left of the main column, right of the others."""
    lane_edges = [
        i
        for i, e in enumerate(edges)
        if column[e.source] == column[e.target] and layer[e.target] != layer[e.source] + 1
    ]
    left_lanes = [i for i in lane_edges if column[edges[i].source] == 0]
    right_lanes = [i for i in lane_edges if column[edges[i].source] != 0]

    def spans(indices: list[int]) -> list[tuple[int, int]]:
        rows_of = [(layer[edges[i].source], layer[edges[i].target]) for i in indices]
        return [(min(a, b), max(a, b)) for a, b in rows_of]

    left_lane_of = dict(zip(left_lanes, _assign_lanes(spans(left_lanes)), strict=True))
    right_lane_of = dict(zip(right_lanes, _assign_lanes(spans(right_lanes)), strict=True))
    return left_lane_of, right_lane_of


def _plan(geometry: _Geometry, i: int) -> tuple[str, str]:
    """The sides of the boxes arrow `i` leaves and enters."""
    edge, column = geometry.edges[i], geometry.column
    if i in geometry.left_lane_of:
        return ("left", "left")
    if i in geometry.right_lane_of:
        return ("right", "right")
    if column[edge.source] == column[edge.target]:
        return ("bottom", "top")
    if column[edge.source] < column[edge.target]:
        return ("right", "left")
    return ("left", "right")


def _plan_ports(geometry: _Geometry) -> None:
    """Plan the ends of every arrow first, so each side of a box can spread its arrows evenly."""
    edges, layer = geometry.edges, geometry.layer
    geometry.plans = [_plan(geometry, i) for i in range(len(edges))]
    # Request ports in the order of the far end's row, so arrows fan out without crossing near the box.
    for i in sorted(range(len(edges)), key=lambda i: (layer[edges[i].target], layer[edges[i].source], i)):
        source_side, target_side = geometry.plans[i]
        if source_side != "bottom":
            geometry.ports.request(edges[i].source, source_side, i)
            geometry.ports.request(edges[i].target, target_side, i)


def _geometry(process: Process, edges: list[_Edge], labels: dict[str, str], current: str | None) -> _Geometry:
    layer, spine = _layers(process, edges)
    column = _columns(process, layer, spine)
    columns = max(column.values()) + 1
    rows = max(layer.values()) + 1
    box_width = _box_width(process, labels, current)
    left_lane_of, right_lane_of = _lanes(edges, layer, column)
    left_gutter = MARGIN + _gutter(left_lane_of)
    boxes = {
        name: _Box(left_gutter + column[name] * (box_width + COLUMN_GAP), MARGIN + layer[name] * (BOX_HEIGHT + ROW_GAP),
                   box_width)
        for name in labels
    }  # fmt: skip
    geometry = _Geometry(
        edges=edges,
        layer=layer,
        column=column,
        left_lane_of=left_lane_of,
        right_lane_of=right_lane_of,
        left_gutter=left_gutter,
        diagram_right=left_gutter + columns * box_width + (columns - 1) * COLUMN_GAP,
        diagram_bottom=MARGIN + rows * BOX_HEIGHT + (rows - 1) * ROW_GAP,
        boxes=boxes,
    )
    _plan_ports(geometry)
    return geometry


def _svg_open(p: str, title_text: str, desc_text: str, width: float, height: float) -> list[str]:
    """The `<svg>` element's start: its size, the accessible title and description, the arrowhead."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="wf-diagram" role="img" '
        f'aria-labelledby="{p}-titel {p}-beschrijving" viewBox="0 0 {_num(width)} {_num(height)}" '
        f'width="{_num(width)}" height="{_num(height)}" font-family="sans-serif" font-size="13">',
        f'<title id="{p}-titel">{_esc(title_text)}</title>',
        f'<desc id="{p}-beschrijving">{_esc(desc_text)}</desc>',
        "<defs>"
        f'<marker id="{p}-pijl" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse">'
        '<path class="wf-arrowhead" d="M0,0 L10,5 L0,10 z" fill="#404040"/>'
        "</marker></defs>",
    ]


def _title_text(process: Process, labels: dict[str, str], current: str | None) -> str:
    title = process.title or process.name
    if current is not None and current in labels:
        return f"Stroomschema {title}, huidige status: {labels[current]}"
    return f"Stroomschema {title}"


def _edges_group(geometry: _Geometry, labels: dict[str, str], p: str) -> list[str]:
    out = ['<g class="wf-edges">']
    for i, e in enumerate(geometry.edges):
        points = " ".join(f"{_num(x)},{_num(y)}" for x, y in geometry.path(i))
        edge_title = f"{labels[e.source]} naar {labels[e.target]}: {', '.join(e.labels)}"
        out.append(
            f'<polyline class="wf-edge" points="{points}" fill="none" stroke="#404040" stroke-width="1.5" '
            f'marker-end="url(#{p}-pijl)"><title>{_esc(edge_title)}</title></polyline>'
        )
    out.append("</g>")
    return out


def _state_box(state: State, box: _Box, label: str, *, is_current: bool, was_visited: bool) -> str:
    """One state: its box, filled and outlined by whether it is current, visited or final, with its label."""
    classes = ["wf-state"]
    fill, stroke_width = "#ffffff", "1.5"
    if state.final:
        classes.append("wf-state--final")
    if was_visited:
        classes.append("wf-state--visited")
        fill = "#e3ebf5"
    if is_current:
        classes.append("wf-state--current")
        fill, stroke_width = "#ffd966", "4"
    rx = "20" if state.final else "6"
    text_y = box.y + BOX_HEIGHT / 2 + 4.5
    text = _esc(label)
    if is_current:
        text += f'<tspan class="wf-current-mark" font-weight="bold">{_esc(CURRENT_MARK)}</tspan>'
    return (
        f'<g class="{" ".join(classes)}">'
        f'<rect x="{_num(box.x)}" y="{_num(box.y)}" width="{_num(box.width)}" height="{BOX_HEIGHT}" rx="{rx}" '
        f'fill="{fill}" stroke="#1a1a1a" stroke-width="{stroke_width}"/>'
        f'<text x="{_num(box.centre_x)}" y="{_num(text_y)}" text-anchor="middle" fill="#1a1a1a">{text}</text>'
        "</g>"
    )


def _notes_group(note_lines: list[tuple[bool, str]], notes_top: float) -> list[str]:
    if not note_lines:
        return []
    out = ['<g class="wf-notes" font-size="12" fill="#1a1a1a">']
    for n, (indent, line) in enumerate(note_lines):
        x = MARGIN + (2 * NOTE_CHAR_WIDTH if indent else 0)
        y = notes_top + n * NOTE_LINE_HEIGHT + 12
        out.append(f'<text class="wf-note" x="{_num(x)}" y="{_num(y)}">{_esc(line)}</text>')
    out.append("</g>")
    return out


def render_svg(
    process: Process,
    current: str | None,
    *,
    visited: Iterable[str] = frozenset(),
    id_prefix: str = "wf",
    fan_in_limit: int = 4,
) -> str:
    """The diagram of `process` as an `<svg>` element; `current` is marked and `visited` states are shaded.

    Deterministic: the same arguments give the same string. Every text is escaped, so the result may be inserted
    into HTML as it is. `id_prefix` keeps the ids unique when a page shows more than one diagram.
    """
    visited_set = frozenset(visited)
    labels = {s.name: s.label or s.name for s in process.states}
    edges, notes = _split(process, fan_in_limit)
    geometry = _geometry(process, edges, labels, current)

    # (indent, text): a note's continuation lines are indented, so each note reads as one item.
    note_lines = [(n > 0, line) for note in notes for n, line in enumerate(_wrap(note, NOTE_WRAP))]
    right_gutter = _gutter(geometry.right_lane_of)
    width = max(
        geometry.diagram_right + right_gutter,
        MARGIN + max((len(x) + 2 for _, x in note_lines), default=0) * NOTE_CHAR_WIDTH,
    )
    width += MARGIN
    notes_top = geometry.diagram_bottom + (ROW_GAP if note_lines else 0)
    height = notes_top + len(note_lines) * NOTE_LINE_HEIGHT + MARGIN

    p = _esc(id_prefix)
    desc_text = (
        f"{len(labels)} statussen en {len(edges)} overgangen tussen statussen, van boven naar beneden; "
        "de huidige status is dik omlijnd en gemarkeerd met (nu)."
    )
    out = _svg_open(p, _title_text(process, labels, current), desc_text, width, height)
    out += _edges_group(geometry, labels, p)
    out.append('<g class="wf-states">')
    for state in process.states:
        out.append(
            _state_box(
                state,
                geometry.boxes[state.name],
                labels[state.name],
                is_current=state.name == current,
                was_visited=state.name in visited_set,
            )
        )
    out.append("</g>")
    out += _notes_group(note_lines, notes_top)
    out.append("</svg>")
    return "".join(out)
