"""Delivering a referral: the handover file to the municipality by e-mail or as a ZGW case, after commit.

The job takes the referral id only and may run twice: it claims the referral (status `queued`) by counting an
attempt, checks once more that a consent still covers it (a withdrawal between the click and the job stops it),
makes the L8 letter if the letter pipeline has not yet, builds the handover file and the detainee's summary, and
delivers one PDF: L8 followed by the handover file. E-mail carries a fixed Message-ID per referral, so a resend
after a crash is recognisable as the same message; a ZGW case is created once per successful run (see docs/zgw.md
for what a failure halfway leaves behind).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from datetime import datetime, timedelta
from typing import Any

from pypdf import PdfWriter
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from integrations.letters.jobs import render_letter, sender_from_settings
from integrations.mail.client import MailNotConfigured
from integrations.municipal.zgw import ZgwConfig, ZgwError, ZgwInvalidInput, ZgwReferral, read_secret
from integrations.queue import QueueUnavailable
from integrations.runtime import runtime
from schulden import audit
from schulden.cases.models import Case, Detainee
from schulden.letters import lifecycle as letter_lifecycle
from schulden.letters.models import Letter, LetterStatus
from schulden.organisations.models import Organisation
from schulden.ports import JobQueue
from schulden.referrals import lifecycle
from schulden.referrals.handover import build_handover, detainee_summary
from schulden.referrals.models import DeliveryChannel, Referral, ReferralStatus
from schulden.referrals.services import delivery_settings, still_covered
from workflows import SYSTEM
from workflows.store import utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
#: A queued referral older than this without a delivery is enqueued again by the sweeper.
LOST_AFTER = timedelta(minutes=2)
#: A delivery job started (or popped) longer ago than this is dead: above RQ's JOB_TIMEOUT (120 s), as the letters'
#: STALE_CLAIM is.
DEAD_AFTER = timedelta(minutes=5)
_KEY = "schuldroute.referrals_to_deliver"


class DeliveryNotPossible(Exception):
    """Something only a person can fix (no address, no ZGW secret): the referral fails at once, no retries."""


def install(factory: sessionmaker[Session], queue: JobQueue) -> None:
    """Referrals put in `queued` (new, or retried) are enqueued for delivery when their transaction commits (never
    before: see dispatch.py of the letters for why)."""
    if getattr(factory, "_referrals_dispatch", None) is queue:
        return

    @event.listens_for(factory, "after_flush")
    def _collect(session: Session, _context: Any) -> None:
        # New referrals and a person's retries alike: whatever entered `queued` in this transaction.
        queued = lifecycle.entered_queue(session)
        if queued:
            session.info.setdefault(_KEY, set()).update(queued)

    @event.listens_for(factory, "after_commit")
    def _dispatch(session: Session) -> None:
        for referral_id in sorted(session.info.pop(_KEY, set())):
            try:
                enqueue_delivery(queue, referral_id)
            except Exception:
                # Committed is committed: the sweeper enqueues it again; the request must not fail for Redis.
                log.warning("referral enqueue failed; the sweeper will retry", extra={"referral_id": referral_id})

    @event.listens_for(factory, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(_KEY, None)

    factory._referrals_dispatch = queue  # type: ignore[attr-defined]


def enqueue_delivery(queue: JobQueue, referral_id: int, *, replace_started_before: datetime | None = None) -> bool:
    """Enqueue the referral's delivery once per id; whether a job was put on the queue (see JobQueue.enqueue)."""
    return queue.enqueue(
        deliver_referral, referral_id, queue="municipal", job_id=f"deliver-referral-{referral_id}",
        replace_started_before=replace_started_before,
    )  # fmt: skip


def _merge(*pdfs: bytes) -> bytes:
    writer = PdfWriter()
    for pdf in pdfs:
        writer.append(io.BytesIO(pdf))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _store(key_prefix: str, pdf: bytes) -> tuple[str, str]:
    sha = hashlib.sha256(pdf).hexdigest()
    key = f"{key_prefix}-{sha[:16]}.pdf"
    runtime().store.put(key, pdf)
    return key, sha


def deliver_referral(referral_id: int) -> str:
    """Make and deliver one referral's handover file. Safe to run again; returns what happened."""
    rt = runtime()
    now = utcnow()
    today = rt.engine.today(now)
    with rt.database.session_scope() as session:
        referral = session.get(Referral, referral_id)
        if referral is None or referral.status != ReferralStatus.QUEUED.value:
            return "not-queued"
        if not still_covered(session, referral, today=today):
            lifecycle.cancel(referral, "geen geldige toestemming meer voor deze gemeente")
            audit.record(session, actor=SYSTEM, action="referral.cancelled", object_type="referral",
                         object_id=referral.id, case_id=referral.case_id)  # fmt: skip
            return "cancelled"
        lifecycle.start_attempt(referral)
        letter_id = referral.letter_id
    try:
        return _deliver(referral_id, letter_id, now=now)
    except MailNotConfigured:
        # Not a failed attempt: the referral waits until SMTP is set up, and the sweeper tries it again.
        with rt.database.session_scope() as session:
            referral = session.get_one(Referral, referral_id)
            lifecycle.attempt_on_hold(referral, "wacht op de e-mailinstellingen (SMTP_HOST)")
        log.warning("referral waits for SMTP settings", extra={"referral_id": referral_id})
        return "waiting"
    except Exception as exc:
        final = isinstance(exc, DeliveryNotPossible)
        with rt.database.session_scope() as session:
            referral = session.get_one(Referral, referral_id)
            final = final or referral.attempts >= MAX_ATTEMPTS
            lifecycle.delivery_failed(referral, f"{type(exc).__name__}: {str(exc)[:300]}", final=final)
            if final:
                audit.record(session, actor=SYSTEM, action="referral.failed", object_type="referral",
                             object_id=referral.id, case_id=referral.case_id, result="error",
                             details={"error": type(exc).__name__})  # fmt: skip
        log.warning("referral delivery failed", extra={"referral_id": referral_id, "error": type(exc).__name__})
        if not final:
            raise  # RQ retries; the in-process queue leaves it to the sweeper
        return "failed"


def _deliver(referral_id: int, letter_id: int | None, *, now: datetime) -> str:
    from integrations.referrals.render import render_detainee_summary_pdf, render_handover_pdf

    rt = runtime()
    if letter_id is not None:
        render_letter(letter_id)  # claims it if the letter pipeline has not rendered it yet; else a no-op
    with rt.database.session() as session:
        referral = session.get_one(Referral, referral_id)
        case = session.get_one(Case, referral.case_id)
        letter = session.get(Letter, letter_id) if letter_id is not None else None
        if letter is not None and letter.storage_key is None:
            raise RuntimeError("de brief L8 is nog niet gemaakt")
        handover = build_handover(
            session, case.id, include_household=referral.include_district_team, sender=sender_from_settings()
        )
        municipality = session.get_one(Organisation, referral.municipality_id)
        settings = delivery_settings(session, municipality.id)
        detainee = session.get_one(Detainee, case.detainee_id)
        person = {
            "bsn": detainee.bsn,
            "surname": detainee.surname,
            "prefix": detainee.surname_prefix,
            "given_names": detainee.given_names,
        }
        l8 = rt.store.get(letter.storage_key) if letter is not None and letter.storage_key else None
        include_district, channel, sequence = referral.include_district_team, referral.channel, referral.sequence
        case_id = case.id
    handover_pdf = render_handover_pdf(handover)
    summary_pdf = render_detainee_summary_pdf(detainee_summary(handover))
    package = _merge(l8, handover_pdf) if l8 is not None else handover_pdf
    prefix = f"referrals/{case_id}/{referral_id}"
    handover_key, handover_sha = _store(f"{prefix}-overdracht", package)
    summary_key, summary_sha = _store(f"{prefix}-samenvatting", summary_pdf)
    with rt.database.session_scope() as session:
        # Kept before sending: when the delivery fails or waits, the counsellor can still open the file and send it
        # by other means; a later attempt replaces it with what it delivers.
        referral = session.get_one(Referral, referral_id)
        referral.handover_key, referral.handover_sha256 = handover_key, handover_sha
        referral.summary_key, referral.summary_sha256 = summary_key, summary_sha
    filename = f"overdracht-{handover.reference}-{sequence}.pdf"
    result: dict[str, str | None] = {}
    if channel == DeliveryChannel.ZGW.value:
        result |= _deliver_zgw(settings, person, package, filename, f"{handover.reference}-{sequence}", now)
    else:
        if not municipality.email:
            raise DeliveryNotPossible("de gemeente heeft geen e-mailadres voor schuldhulpverlening")
        message_id = f"<referral-{referral_id}@schuldroute>"
        result["email_message_id"] = _mail(municipality.email, package, filename, message_id, handover.reference)
    if include_district:
        if settings is None or not settings.district_team_email:
            raise DeliveryNotPossible("de gemeente heeft geen adres voor het sociaal wijkteam ingesteld")
        result["district_message_id"] = _mail(
            settings.district_team_email, package, filename, f"<referral-{referral_id}-wijkteam@schuldroute>",
            handover.reference,
        )  # fmt: skip
    with rt.database.session_scope() as session:
        referral = session.get_one(Referral, referral_id)
        referral.handover_key, referral.handover_sha256 = handover_key, handover_sha
        referral.summary_key, referral.summary_sha256 = summary_key, summary_sha
        lifecycle.delivered(referral, at=utcnow(), **result)
        if letter_id is not None:
            letter = session.get_one(Letter, letter_id)
            if letter.status == LetterStatus.RENDERED.value:
                letter_lifecycle.sent(session, rt.engine, [letter], at=utcnow())
        details = {"channel": channel, "sha256": handover_sha, "district_team": include_district}
        audit.record(session, actor=SYSTEM, action="referral.delivered", object_type="referral",
                     object_id=referral_id, case_id=case_id, details=details)  # fmt: skip
    return "delivered"


def _mail(to: str, pdf: bytes, filename: str, message_id: str, reference: str) -> str:
    runtime().mailer.send_pdf(
        to=to,
        subject=f"Aanmelding schuldhulpverlening (warme overdracht) - {reference}",
        body=(
            "Bijgaand de aanmelding voor schuldhulpverlening van een gedetineerde die binnenkort vrijkomt, met het "
            "overdrachtsdossier. Laat in Schuldroute weten of u de aanmelding accepteert en wanneer het eerste "
            "gesprek is (art. 4a Wgs)."
        ),
        pdf=pdf,
        filename=filename,
        message_id=message_id,
    )
    return message_id


def _deliver_zgw(
    settings: Any, person: dict[str, str | None], pdf: bytes, filename: str, reference: str, now: datetime
) -> dict[str, str | None]:
    if settings is None or not (settings.zaken_api_url and settings.documenten_api_url and settings.zgw_client_id):
        raise DeliveryNotPossible("de ZGW-koppeling van de gemeente is niet volledig ingesteld")
    try:  # only a ZGW_SECRET_… variable, never e.g. SECRET_KEY (docs/zgw.md)
        secret = read_secret(settings.zgw_secret_setting, os.environ)
    except ZgwInvalidInput as exc:
        raise DeliveryNotPossible(f"ZGW-geheim: {exc.errors['zgw_secret_setting']}") from exc
    if not person["bsn"]:
        raise DeliveryNotPossible("zonder BSN kan geen zaak met een rol worden aangemaakt")
    config = ZgwConfig(
        zaken_api_url=settings.zaken_api_url,
        documenten_api_url=settings.documenten_api_url,
        client_id=settings.zgw_client_id,
        secret=secret,
        bronorganisatie=settings.bronorganisatie or "",
        verantwoordelijke_organisatie=settings.bronorganisatie or "",
        zaaktype_url=settings.zaaktype_url or "",
        statustype_url=settings.statustype_url or "",
        roltype_url=settings.roltype_url or "",
        informatieobjecttype_url=settings.informatieobjecttype_url or "",
        https_only=runtime().settings.is_production,
    )
    try:
        result = runtime().municipal.create_referral_case(
            config,
            ZgwReferral(
                omschrijving=f"Aanmelding schuldhulpverlening {reference}",
                toelichting="Warme overdracht vanuit detentie (Schuldroute)",
                startdatum=runtime().engine.today(now),
                bsn=person["bsn"],
                geslachtsnaam=person["surname"] or "",
                voorvoegsel=person["prefix"] or "",
                voornamen=person["given_names"] or "",
                status_toelichting="Aanmelding ontvangen",
                pdf=pdf,
                filename=filename,
                title=f"Overdrachtsdossier {reference}",
                # Stable per referral: a retry after a failure halfway cannot make a second zaak (the server refuses
                # the identificatie; a person then looks the zaak up, see docs/zgw.md).
                identificatie=reference,
            ),
        )
    except ZgwError as exc:
        if exc.zaak_already_exists:
            raise DeliveryNotPossible(f"er bestaat al een zaak {reference} bij de gemeente: zoek die op") from exc
        raise
    return {"zaak_url": result.zaak_url, "document_url": result.document_url}


def sweep_referrals(now: datetime | None = None) -> int:
    """Enqueue referrals still queued after LOST_AFTER (Redis lost the job, an enqueue failed after commit)."""
    rt = runtime()
    now = now or utcnow()
    with rt.database.session() as session:
        ids = session.scalars(
            select(Referral.id).where(
                Referral.status == ReferralStatus.QUEUED.value, Referral.updated_at < now - LOST_AFTER
            )
        ).all()
    # A job RQ holds as started, or as queued in no list, since before DEAD_AFTER belongs to a worker that died
    # (longer than any job may run): it is replaced. One that may still run is left alone and not counted.
    dead_before = now - DEAD_AFTER
    enqueued = 0
    try:
        for referral_id in ids:
            enqueued += enqueue_delivery(rt.queue, referral_id, replace_started_before=dead_before)
    except QueueUnavailable as exc:
        log.warning("referral sweep stopped: the queue is unavailable", extra={"error": type(exc.__cause__).__name__})
    return enqueued
