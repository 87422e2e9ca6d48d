"""The workflow diagram as inline SVG (workflows/svg.py, issue 6): well-formed, complete, current state marked,
deterministic, escaped and free of inline style (the page's CSP forbids it)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from schulden.cases.workflow import build_case_process
from workflows import ANY, PREVIOUS, Process, State, Transition
from workflows.svg import render_svg

NS = "{http://www.w3.org/2000/svg}"
MAIN_PATH = [
    "draft",
    "awaiting_consent",
    "inventory",
    "inventory_complete",
    "referral_due",
    "referred",
    "accepted",
    "closed",
]


def _parse(svg: str) -> ET.Element:
    # Our own renderer's output, not untrusted input: the standard parser is the check of well-formedness.
    return ET.fromstring(svg)  # noqa: S314


def _boxes(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{NS}g") if "wf-state" in (g.get("class") or "").split()]


def _box_text(box: ET.Element) -> str:
    text = box.find(f"{NS}text")
    assert text is not None
    return "".join(text.itertext())


def _box_by_label(root: ET.Element, label: str) -> ET.Element:
    return next(b for b in _boxes(root) if _box_text(b).removesuffix(" (nu)") == label)


def _rect(box: ET.Element) -> ET.Element:
    rect = box.find(f"{NS}rect")
    assert rect is not None
    return rect


def _current(root: ET.Element) -> list[ET.Element]:
    return [b for b in _boxes(root) if "wf-state--current" in (b.get("class") or "").split()]


def test_case_diagram_is_well_formed_and_names_every_state() -> None:
    process = build_case_process()
    root = _parse(render_svg(process, "inventory"))
    assert root.tag == f"{NS}svg"
    assert root.get("role") == "img"
    texts = sorted(_box_text(b) for b in _boxes(root))
    assert texts == sorted((s.label or s.name) + (" (nu)" if s.name == "inventory" else "") for s in process.states)
    # Arrows for transitions between distinct states, with an arrowhead.
    edges = [e for e in root.iter(f"{NS}polyline") if e.get("class") == "wf-edge"]
    assert len(edges) >= len(MAIN_PATH) - 1
    assert all(e.get("marker-end") == "url(#wf-pijl)" for e in edges)


def test_current_state_is_marked_and_named_in_the_title() -> None:
    process = build_case_process()
    root = _parse(render_svg(process, "referred", visited={"draft", "inventory"}))
    (current,) = _current(root)
    assert _box_text(current) == "Verwezen (nu)"
    assert float(_rect(current).get("stroke-width") or 0) > float(
        _rect(_box_by_label(root, "Concept")).get("stroke-width") or 0
    )
    assert "wf-state--visited" in (_box_by_label(root, "Concept").get("class") or "")
    assert "wf-state--visited" not in (_box_by_label(root, "Geaccepteerd door gemeente").get("class") or "")
    # aria-labelledby points at the <title> and <desc>, and the title names the current state.
    ids = (root.get("aria-labelledby") or "").split()
    by_id = {el.get("id"): el for el in root.iter() if el.get("id")}
    assert [by_id[i].tag for i in ids] == [f"{NS}title", f"{NS}desc"]
    assert "huidige status: Verwezen" in (by_id[ids[0]].text or "")


def test_no_current_state_marks_nothing() -> None:
    root = _parse(render_svg(build_case_process(), None))
    assert _current(root) == []
    assert all(not _box_text(b).endswith("(nu)") for b in _boxes(root))


def test_main_path_is_one_column_top_to_bottom_with_side_states_beside_it() -> None:
    process = build_case_process()
    root = _parse(render_svg(process, "draft"))
    labels = {s.name: s.label for s in process.states}
    main = [_rect(_box_by_label(root, labels[name])) for name in MAIN_PATH]
    assert len({r.get("x") for r in main}) == 1
    ys = [float(r.get("y") or 0) for r in main]
    assert ys == sorted(ys)
    assert len(set(ys)) == len(ys)
    for side in ("on_hold", "rerouting"):
        rect = _rect(_box_by_label(root, labels[side]))
        assert float(rect.get("x") or 0) > float(main[0].get("x") or 0)


def test_wildcard_transitions_become_notes() -> None:
    root = _parse(render_svg(build_case_process(), None))
    notes = " ".join(t.text or "" for t in root.iter(f"{NS}text") if t.get("class") == "wf-note")
    assert "Dossier afsluiten: vanuit elke open status naar Afgesloten" in notes
    assert "Hervatten" in notes
    assert "vorige status" in notes


def test_output_is_deterministic_and_has_no_inline_style() -> None:
    first = render_svg(build_case_process(), "on_hold", visited=["draft", "inventory"])
    again = render_svg(build_case_process(), "on_hold", visited={"inventory", "draft"})
    assert first == again
    root = _parse(first)
    assert all("style" not in el.attrib for el in root.iter())
    assert root.find(f"{NS}style") is None
    assert root.find(f"{NS}script") is None


def test_text_is_escaped() -> None:
    nasty = "<script>alert(\"x\")</script> & 'b'\x00"
    process = Process(
        name="p",
        version=1,
        initial="a",
        title=nasty,
        states=(State("a", nasty), State("b", "B & co", final=True)),
        transitions=(Transition("go", "a", "b", roles={"r"}, label=nasty),),
    )
    svg = render_svg(process, "a", id_prefix='x" onload="y')
    assert "<script" not in svg
    assert 'onload="' not in svg
    root = _parse(svg)
    assert _box_text(_box_by_label(root, nasty.replace("\x00", ""))) == nasty.replace("\x00", "") + " (nu)"
    assert root.find(f"{NS}script") is None


LABELS = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=30)


@st.composite
def processes(draw: st.DrawFn) -> Process:
    """Small random but valid processes: some states final, transitions between random states, wildcards too."""
    count = draw(st.integers(min_value=1, max_value=9))
    names = [f"s{i}" for i in range(count)]
    finals = draw(st.sets(st.sampled_from(names[1:]), max_size=2)) if count > 1 else set()
    states = tuple(State(n, draw(LABELS), final=n in finals) for n in names)
    open_states = [n for n in names if n not in finals]
    transitions = []
    for i in range(draw(st.integers(min_value=0, max_value=14))):
        sources = draw(st.lists(st.sampled_from(open_states), min_size=1, max_size=6, unique=True))
        kind = draw(st.sampled_from(["plain", "plain", "plain", "any", "previous", "internal"]))
        if kind == "any":
            transitions.append(Transition(f"e{i}", ANY, draw(st.sampled_from(names)), roles={"r"}))
        elif kind == "previous":
            transitions.append(Transition(f"e{i}", sources, PREVIOUS, roles={"r"}))
        elif kind == "internal":
            transitions.append(Transition(f"e{i}", sources, ANY, roles={"r"}, internal=True))
        else:
            transitions.append(
                Transition(f"e{i}", sources, draw(st.sampled_from(names)), roles={"r"}, label=draw(LABELS))
            )
    return Process(name="random", version=1, initial=names[0], states=states, transitions=tuple(transitions))


@settings(max_examples=150, deadline=None)
@given(process=processes(), data=st.data())
def test_any_process_gives_a_well_formed_diagram(process: Process, data: st.DataObject) -> None:
    current = data.draw(st.sampled_from([None, *(s.name for s in process.states)]))
    svg = render_svg(process, current)
    assert svg == render_svg(process, current)
    root = _parse(svg)
    boxes = _boxes(root)
    assert len(boxes) == len(process.states)
    expected = {s.name: s.label or s.name for s in process.states}
    texts = [_box_text(b) for b in boxes]
    assert texts == [expected[s.name] + (" (nu)" if s.name == current else "") for s in process.states]
    assert len(_current(root)) == (0 if current is None else 1)
    # No two boxes on the same spot, and all inside the drawing.
    spots = {(_rect(b).get("x"), _rect(b).get("y")) for b in boxes}
    assert len(spots) == len(boxes)
    width, height = float(root.get("width") or 0), float(root.get("height") or 0)
    for box in boxes:
        rect = _rect(box)
        assert float(rect.get("x") or 0) + float(rect.get("width") or 0) <= width
        assert float(rect.get("y") or 0) + float(rect.get("height") or 0) <= height
