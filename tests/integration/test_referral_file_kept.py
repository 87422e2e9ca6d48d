"""The handover file is kept as soon as it is made, also when the delivery waits or fails (issue 13 item 7): the
counsellor can open the PDF that could not go out and send it by other means."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from schulden.referrals.lifecycle import waiting_for_settings
from schulden.referrals.models import Referral
from tests.demo_world import seed_committed


def test_a_delivery_waiting_for_mail_settings_keeps_its_file_for_the_counsellor(
    committed_url: str, committed: sessionmaker[Session], tmp_path: Path
) -> None:
    world = seed_committed(committed_url, letter_store=tmp_path / "store")  # no SMTP: the e-mail waits
    with committed() as session:
        referral = next(r for r in session.scalars(select(Referral).order_by(Referral.id)) if waiting_for_settings(r))
        assert referral.delivered_at is None
        assert referral.handover_key is not None
        assert referral.summary_key is not None
        referral_id = referral.id
    counsellor = world.client("schuldhulp.demo")
    page = counsellor.get(f"/verwijzingen/{referral_id}/overdrachtsdossier").get_data(as_text=True)
    assert "Het PDF-bestand zoals het klaarstaat om te versturen" in page
    pdf = counsellor.get(f"/verwijzingen/{referral_id}/overdrachtsdossier.pdf")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
