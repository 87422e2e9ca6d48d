"""The creditor's PDF attachment and the submission limit (issue 10 item 8; security.md 2.2, scenarios 41 and 45):
the documented 4 MB works (it used to stop at the app's 1 MB, because the CSRF check read the form first), a bigger
file gets the form again with a Dutch message naming the field and the limit, other routes keep 1 MB, active or
encrypted PDFs are refused with a message per reason, and answers are limited per code."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from schulden.replies import attachments
from schulden.replies.models import CreditorReply
from tests.web.reply_support import ReplyWorld, csrf, open_with_link, submit, world

__all__ = ["world"]  # the fixture

MB = 1024 * 1024


def make_pdf(change: Callable[[PdfWriter, Any], None] | None = None, *, size: int = 0) -> bytes:
    """A one-page PDF, grown to about `size` bytes with harmless drawing operators, changed by `change`."""
    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    if size:
        stream = DecodedStreamObject()
        stream.set_data(b"0 0 m 10 10 l S\n" * (size // 16))
        page[NameObject("/Contents")] = writer._add_object(stream)
    if change is not None:
        change(writer, page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _action(kind: str, **entries: Any) -> DictionaryObject:
    action = DictionaryObject({NameObject("/Type"): NameObject("/Action"), NameObject("/S"): NameObject(kind)})
    for key, value in entries.items():
        action[NameObject(f"/{key}")] = value
    return action


def _annotation(writer: PdfWriter, page: Any, subtype: str, **entries: Any) -> None:
    annotation = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject(subtype),
            NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (10, 10, 50, 50)]),
        }
    )
    for key, value in entries.items():
        annotation[NameObject(f"/{key}")] = value
    page[NameObject("/Annots")] = ArrayObject([writer._add_object(annotation)])


class _EscapedName(NameObject):
    """A name written with a #xx escape (`/J#53` is `/JS`), as a file would hide it from a naive byte search."""

    def write_to_stream(self, stream: Any, encryption_key: Any = None) -> None:
        stream.write(b"/J#53")


def _js_in_names_tree(writer: PdfWriter, _page: Any) -> None:
    script = writer._add_object(_action("/JavaScript", JS=TextStringObject("app.alert('hallo');")))
    tree = DictionaryObject({NameObject("/Names"): ArrayObject([TextStringObject("start"), script])})
    writer._root_object[NameObject("/Names")] = DictionaryObject({NameObject("/JavaScript"): writer._add_object(tree)})


def _js_open_action(writer: PdfWriter, _page: Any) -> None:
    writer._root_object[NameObject("/OpenAction")] = _action("/JavaScript", JS=TextStringObject("app.alert(1)"))


def _js_link_with_escaped_name(writer: PdfWriter, page: Any) -> None:
    action = DictionaryObject({NameObject("/S"): NameObject("/JavaScript")})
    action[_EscapedName("/JS")] = TextStringObject("app.alert(1)")
    del action[NameObject("/S")]  # only the escaped /JS key betrays it
    _annotation(writer, page, "/Link", A=writer._add_object(action))


def _js_additional_action(_writer: PdfWriter, page: Any) -> None:
    page[NameObject("/AA")] = DictionaryObject(
        {NameObject("/O"): _action("/JavaScript", JS=TextStringObject("this.print()"))}
    )


def _launch(writer: PdfWriter, _page: Any) -> None:
    writer._root_object[NameObject("/OpenAction")] = _action("/Launch", F=TextStringObject("C:\\calc.exe"))


def _embedded_file(writer: PdfWriter, _page: Any) -> None:
    writer.add_attachment("factuur.exe", b"MZ...")


def _file_attachment_annotation(writer: PdfWriter, page: Any) -> None:
    spec = DictionaryObject({NameObject("/Type"): NameObject("/Filespec"), NameObject("/F"): TextStringObject("x.txt")})
    _annotation(writer, page, "/FileAttachment", FS=spec)


def _rich_media(writer: PdfWriter, page: Any) -> None:
    _annotation(writer, page, "/RichMedia")


def _xfa(writer: PdfWriter, _page: Any) -> None:
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
        {NameObject("/Fields"): ArrayObject(), NameObject("/XFA"): TextStringObject("<xdp:xdp/>")}
    )


def _encrypted(writer: PdfWriter, _page: Any) -> None:
    writer.encrypt("geheim", algorithm="RC4-128")


REFUSED = [
    pytest.param(_js_in_names_tree, attachments.JAVASCRIPT, id="javascript-names-tree"),
    pytest.param(_js_open_action, attachments.JAVASCRIPT, id="javascript-open-action"),
    pytest.param(_js_link_with_escaped_name, attachments.JAVASCRIPT, id="javascript-link-hex-escaped-name"),
    pytest.param(_js_additional_action, attachments.JAVASCRIPT, id="javascript-page-additional-action"),
    pytest.param(_launch, attachments.LAUNCH, id="launch-action"),
    pytest.param(_embedded_file, attachments.EMBEDDED, id="embedded-file"),
    pytest.param(_file_attachment_annotation, attachments.EMBEDDED, id="file-attachment-annotation"),
    pytest.param(_rich_media, attachments.RICH_MEDIA, id="rich-media"),
    pytest.param(_xfa, attachments.XFA, id="xfa-form"),
    pytest.param(_encrypted, attachments.ENCRYPTED, id="encrypted"),
]


def _replies(world: ReplyWorld) -> int:
    with world.db() as s:
        return int(
            s.scalar(select(func.count()).select_from(CreditorReply).where(CreditorReply.letter_id == world.letter_id))
            or 0
        )


def _upload(world: ReplyWorld, data: bytes, name: str = "saldo.pdf") -> Any:
    open_with_link(world.client, world.token)
    upload = FileStorage(io.BytesIO(data), filename=name, content_type="application/pdf")
    return submit(world.client, {**world.balance(), "attachment": upload})


def test_a_three_megabyte_pdf_is_accepted_and_reaches_the_counsellor(world: ReplyWorld) -> None:
    data = make_pdf(size=3 * MB)
    assert 3 * MB <= len(data) < 4 * MB

    done = _upload(world, data)

    assert done.status_code == 303, done.get_data(as_text=True)[-3000:]
    assert done.headers["Location"].endswith("/antwoord/bedankt")
    counsellor = world.bearer()
    [reply] = [r for r in world.client.get(f"/api/v1/cases/{world.case_id}/replies", headers=counsellor).json or []
               if r["letter_id"] == world.letter_id]  # fmt: skip
    assert reply["attachment_bytes"] == len(data)
    pdf = world.client.get(f"/api/v1/replies/{reply['id']}/attachment", headers=counsellor)
    assert pdf.status_code == 200
    assert pdf.data == data


def test_a_file_just_over_four_megabytes_is_refused_at_the_field(world: ReplyWorld) -> None:
    data = make_pdf(size=4 * MB + 16 * 1024)
    assert 4 * MB < len(data) < 4 * MB + 64 * 1024

    refused = _upload(world, data)

    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Bijlage: Het bestand is groter dan 4 MB" in page
    assert 'id="veld-attachment-fout"' in page
    assert _replies(world) == 0


def test_a_body_far_over_the_limit_gets_the_form_again_with_a_dutch_message(world: ReplyWorld) -> None:
    refused = _upload(world, b"%PDF-1.7\n" + b"0" * (6 * MB))

    assert refused.status_code == 413
    page = refused.get_data(as_text=True)
    assert "Uw antwoord is niet verstuurd: de bijlage is groter dan 4 MB" in page
    assert "Bijlage: Uw antwoord" not in page  # the message names the field itself: the label is not repeated
    assert "Antwoord controleren" in page  # the form, not a bare error page
    assert _replies(world) == 0
    assert world.client.get("/antwoord/brief").status_code == 200  # the session goes on


def test_other_routes_keep_the_one_megabyte_limit(world: ReplyWorld) -> None:
    big = "A" * (MB + 1024)
    code_form = world.client.post("/antwoord", data={"code": big, "csrf_token": csrf(world.client, "/antwoord")})
    api = world.client.post("/api/v1/auth/token", json={"username": big, "password": "x"})

    assert code_form.status_code == 413
    assert api.status_code == 413
    assert (api.json or {})["title"] == "Verzoek te groot"


@pytest.mark.parametrize(("change", "message"), REFUSED)
def test_each_kind_of_active_or_encrypted_pdf_is_refused_with_its_reason(
    change: Callable[[PdfWriter, Any], None], message: str
) -> None:
    """The check itself, per kind of active content (no page needed: the upload test below shows the page)."""
    data = make_pdf(change)
    reader = PdfReader(io.BytesIO(data))
    assert reader.is_encrypted or reader.pages  # a PDF an ordinary viewer opens
    with pytest.raises(attachments.AttachmentRefused) as refused:
        attachments.check_pdf(data)
    assert refused.value.message == message


def test_an_active_encrypted_or_broken_file_is_refused_on_the_page_with_its_reason(
    world: ReplyWorld, subtests: Any
) -> None:
    files = [
        ("javascript-open-action", make_pdf(_js_open_action), attachments.JAVASCRIPT),
        ("encrypted", make_pdf(_encrypted), attachments.ENCRYPTED),
        ("unreadable", b"%PDF-1.7\n" + bytes(range(256)) * 40, attachments.UNREADABLE),
        ("not-a-pdf", b"GIF89a" + b"\0" * 100, attachments.NOT_PDF),
    ]
    for name, data, message in files:
        with subtests.test(file=name):
            refused = _upload(world, data)
            assert refused.status_code == 422
            assert message in refused.get_data(as_text=True)
            assert _replies(world) == 0


def test_a_plain_pdf_with_a_web_link_passes_the_checks() -> None:
    def link(writer: PdfWriter, page: Any) -> None:
        _annotation(writer, page, "/Link", A=_action("/URI", URI=TextStringObject("https://example.org/")))

    assert attachments.check_pdf(make_pdf(link)) == 1


def test_answers_are_limited_per_code(world: ReplyWorld) -> None:
    statuses = []
    for n in range(6):
        open_with_link(world.client, world.token)
        statuses.append(submit(world.client, world.balance(f"{100 + n},00")).status_code)

    assert statuses == [303] * 5 + [429]
    assert _replies(world) == 5
    sixth = submit(world.client, world.balance("999,00"))
    assert "al vaak geantwoord" in sixth.get_data(as_text=True)
    # Another letter (another code) is not affected.
    other = world.new_client()
    open_with_link(other, world.other_token)
    assert submit(other, world.balance()).status_code == 303


def test_refused_submissions_count_towards_the_limit_too(world: ReplyWorld) -> None:
    open_with_link(world.client, world.token)
    statuses = {submit(world.client, {"principal_cents": "veel"}).status_code for _ in range(20)}

    last = submit(world.client, world.balance())

    assert statuses == {422}
    assert last.status_code == 429
    assert _replies(world) == 0
