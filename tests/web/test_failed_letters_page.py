"""Beheer > Mislukte brieven (issue 14 item 2): the administrator sees the failed letters by kind of error and type,
checks what a retry does, and has a group (or all) made again at once; nobody else reaches the page."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from schulden.audit import AuditEntry
from schulden.letters.models import Letter, LetterStatus
from tests.demo_world import DemoWorld, csrf

PAGE = "/beheer/mislukte-brieven"
CHECK = f"{PAGE}/opnieuw"
FULL = "OSError: [Errno 28] No space left on device"


def fail_letters(world: DemoWorld, statuses: tuple[str, ...], count: int, error: str = FULL) -> list[int]:
    """Make `count` of the demo's letters in `statuses` failed, as a full letter store leaves them."""
    with world.db() as s:
        ids = list(
            s.scalars(
                select(Letter.id)
                .where(Letter.status.in_(statuses), Letter.letter_type != "L8")  # L8 goes with its referral
                .order_by(Letter.id)
                .limit(count)
            )
        )
        assert len(ids) == count, ids
        # A letter that failed was never made: it has no PDF and no reply code.
        never_made = dict.fromkeys(
            ("storage_key", "sha256", "size_bytes", "rendered_at", "reply_code_hash", "reply_token_hash")
        )
        s.execute(
            update(Letter)
            .where(Letter.id.in_(ids))
            .values(status=LetterStatus.FAILED.value, attempts=3, last_error=error, **never_made)
        )
        s.commit()
    return ids


def _types(world: DemoWorld, ids: list[int]) -> set[str]:
    with world.db() as s:
        return set(s.scalars(select(Letter.letter_type).where(Letter.id.in_(ids))))


def test_the_administrator_sees_the_groups_and_a_button_per_group(demo_world: DemoWorld) -> None:
    ids = fail_letters(demo_world, ("queued",), 2)
    admin = demo_world.client("admin.demo")
    page = admin.get(PAGE).get_data(as_text=True)
    assert '<h1 class="utrecht-heading-1">Mislukte brieven</h1>' in page
    assert "De opslag was vol of niet schrijfbaar" in page
    assert "Overige fouten" in page  # the demo's own failed letter, whose reason is in words
    for letter_type in _types(demo_world, ids):
        assert f"soort=OSError&amp;type={letter_type}" in page
    assert "Opnieuw laten maken (" in page
    assert "Alle mislukte brieven opnieuw laten maken (" in page
    assert f'href="{PAGE}"' in admin.get("/beheer").get_data(as_text=True)


def test_the_check_page_says_what_happens_and_changes_nothing(demo_world: DemoWorld) -> None:
    ids = fail_letters(demo_world, ("queued",), 2)
    admin = demo_world.client("admin.demo")
    page = admin.get(f"{CHECK}?soort=OSError").get_data(as_text=True)
    assert "Controleer: mislukte brieven opnieuw laten maken" in page
    assert "2 brieven worden opnieuw gemaakt" in page
    assert "De brieven aan schuldeisers krijgen hun antwoordcode en QR-code pas nu ze worden gemaakt" in page
    assert 'name="soort" value="OSError"' in page
    assert 'name="confirm" value="1"' in page
    assert "2 brieven opnieuw laten maken</button>" in page
    with demo_world.db() as s:
        assert set(s.scalars(select(Letter.status).where(Letter.id.in_(ids)))) == {"failed"}


def test_a_group_that_does_not_exist_leads_back_to_the_list(demo_world: DemoWorld) -> None:
    admin = demo_world.client("admin.demo")
    refused = admin.get(f"{CHECK}?type=L11", follow_redirects=True).get_data(as_text=True)
    assert "Deze groep mislukte brieven bestaat niet" in refused
    empty = admin.get(f"{CHECK}?soort=KeyError", follow_redirects=True).get_data(as_text=True)
    assert "Er zijn (nu) geen mislukte brieven van deze soort." in empty


@pytest.mark.parametrize("username", ["schuldhulp.demo", "pi.demo", "gemeente.demo", "partner.demo"])
def test_nobody_else_reaches_it(demo_world: DemoWorld, username: str) -> None:
    ids = fail_letters(demo_world, ("queued",), 1)
    client = demo_world.client(username)
    assert client.get(PAGE).status_code == 403
    assert client.get(f"{CHECK}?soort=OSError").status_code == 403
    token = csrf(client, "/")
    assert client.post(CHECK, data={"csrf_token": token, "confirm": "1", "soort": "OSError"}).status_code == 403
    with demo_world.db() as s:
        assert s.scalar(select(Letter.status).where(Letter.id == ids[0])) == "failed"


@pytest.mark.usefixtures("committed")
def test_the_confirmed_retry_makes_the_letters_again(demo_world: DemoWorld) -> None:
    ids = fail_letters(demo_world, ("rendered", "sent"), 3)
    admin = demo_world.client("admin.demo")
    token = csrf(admin, f"{CHECK}?soort=OSError")
    done = admin.post(CHECK, data={"csrf_token": token, "confirm": "1", "soort": "OSError", "type": ""})
    assert done.status_code == 303
    assert done.headers["Location"].endswith(PAGE)
    assert "3 brieven worden opnieuw gemaakt." in admin.get(PAGE).get_data(as_text=True)
    with demo_world.db() as s:
        # The in-process queue rendered them right after the commit, each in one attempt.
        made = s.execute(select(Letter.status, Letter.attempts, Letter.sha256).where(Letter.id.in_(ids))).all()
        assert [(status, attempts) for status, attempts, _sha in made] == [("rendered", 1)] * 3
        assert all(sha for _status, _attempts, sha in made)
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "letter.retry")))
    assert sorted(int(r.object_id or 0) for r in rows) == sorted(ids)
    assert all(r.details == {"bulk": True, "reason": "OSError"} for r in rows)
    # Without the confirmation a POST is the check page again, and changes nothing.
    again = admin.post(CHECK, data={"csrf_token": token, "soort": "unknown"})
    assert again.status_code in (200, 303)
    assert len(demo_world.audit("letter.retry")) == 3
