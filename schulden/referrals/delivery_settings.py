"""How a municipality receives referrals: by e-mail, or as a case in its ZGW zaaksysteem (administrators only).

One rule set and one operation for the API (PUT /municipalities/{id}/delivery) and the page in Beheer. The ZGW
client secret never enters the database: the settings name the environment variable that holds it.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from schulden import audit
from schulden.actors import UserActor
from schulden.errors import NotPermitted
from schulden.fields import DutchSchema, Name, one_of
from schulden.organisations.models import Organisation
from schulden.organisations.services import get_municipality
from schulden.referrals import lifecycle
from schulden.referrals.models import DeliveryChannel, MunicipalDelivery, Referral, ReferralStatus
from schulden.referrals.services import current_channel
from schulden.roles import Role
from workflows.store import utcnow

#: What a ZGW delivery cannot do without (docs/zgw.md): both APIs, the credentials' names, the catalogue's types.
ZGW_REQUIRED = (
    "zaken_api_url", "documenten_api_url", "zgw_client_id", "zgw_secret_setting", "zaaktype_url",
    "statustype_url", "roltype_url", "informatieobjecttype_url", "bronorganisatie",
)  # fmt: skip


class DeliveryIn(DutchSchema):
    channel = fields.String(required=True, validate=one_of([c.value for c in DeliveryChannel]))
    district_team_name = Name(load_default=None, allow_none=True)
    district_team_email = fields.Email(load_default=None, allow_none=True)
    zaken_api_url = fields.Url(load_default=None, allow_none=True, schemes={"https", "http"})
    documenten_api_url = fields.Url(load_default=None, allow_none=True, schemes={"https", "http"})
    zgw_client_id = Name(load_default=None, allow_none=True, maximum=100)
    zgw_secret_setting = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(
            r"^ZGW_SECRET_[A-Z0-9_]{1,89}$",
            error="De naam van een omgevingsvariabele die met ZGW_SECRET_ begint, bijv. ZGW_SECRET_GM0363.",
        ),
    )
    zaaktype_url = fields.Url(load_default=None, allow_none=True, schemes={"https", "http"})
    statustype_url = fields.Url(load_default=None, allow_none=True, schemes={"https", "http"})
    roltype_url = fields.Url(load_default=None, allow_none=True, schemes={"https", "http"})
    informatieobjecttype_url = fields.Url(load_default=None, allow_none=True, schemes={"https", "http"})
    bronorganisatie = fields.String(
        load_default=None, allow_none=True, validate=validate.Regexp(r"^\d{9}$", error="Het RSIN heeft 9 cijfers.")
    )

    # Also with errors in other fields, so that the form names every missing setting at once; a setting given but
    # malformed has its own message already and is not called missing.
    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _zgw_complete(self, data: dict[str, Any], original: dict[str, Any], **kwargs: Any) -> None:
        if original.get("channel") != DeliveryChannel.ZGW.value:
            return
        missing = {name: ["Verplicht bij aflevering via het zaaksysteem (ZGW)."] for name in ZGW_REQUIRED
                   if not original.get(name)}  # fmt: skip
        if missing:
            raise ValidationError(missing)


FIELDS = tuple(DeliveryIn().fields)


def _require_admin(actor: UserActor) -> None:
    if actor.role is not Role.ADMIN:
        raise NotPermitted("Uw rol mag de aflevering van verwijzingen niet instellen.")


def current(session: Session, actor: UserActor, municipality_id: int) -> tuple[Organisation, dict[str, Any]]:
    """The municipality and its settings as the form shows them (e-mail to its own address when none are set)."""
    _require_admin(actor)
    org = get_municipality(session, municipality_id)
    row = session.get(MunicipalDelivery, org.id)
    values = {name: getattr(row, name) if row is not None else None for name in FIELDS}
    values["channel"] = values["channel"] or DeliveryChannel.EMAIL.value
    return org, values


def set_delivery(
    session: Session, actor: UserActor, municipality_id: int, data: dict[str, Any], *, origin: str | None = None
) -> MunicipalDelivery:
    """Store how the municipality receives referrals; `data` as DeliveryIn loaded it (both front doors load it and
    show its errors). Referrals already sent keep their channel; a failed one goes again with the new settings
    through 'Opnieuw versturen'."""
    _require_admin(actor)
    org = get_municipality(session, municipality_id)
    loaded = {name: data.get(name) for name in FIELDS}
    row = session.get(MunicipalDelivery, org.id) or MunicipalDelivery(organisation_id=org.id)
    for name, value in loaded.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.add(row)
    audit.record(session, actor=actor, action="municipality.delivery", object_type="organisation",
                 object_id=org.id, origin=origin, details={"channel": loaded["channel"]})  # fmt: skip
    session.flush()
    return row


def waiting_referrals(session: Session, actor: UserActor, municipality_id: int) -> list[Referral]:
    """The municipality's referrals that failed or still wait for delivery: what new settings are for."""
    _require_admin(actor)
    return list(
        session.scalars(
            select(Referral)
            .where(
                Referral.municipality_id == municipality_id,
                Referral.status.in_((ReferralStatus.FAILED.value, ReferralStatus.QUEUED.value)),
            )
            .order_by(Referral.id)
        )
    )


def retry_failed(session: Session, actor: UserActor, municipality_id: int, *, origin: str | None = None) -> int:
    """Every failed delivery to this municipality goes again (after its settings were put right): queued with its
    attempts from zero, enqueued after commit as a new referral is. Returns how many; each is audited. The
    administrator sees no case content here: the referral's file is made from the case by the delivery job."""
    _require_admin(actor)
    get_municipality(session, municipality_id)
    failed = [r for r in waiting_referrals(session, actor, municipality_id) if r.status == ReferralStatus.FAILED.value]
    for referral in failed:
        lifecycle.retry(referral, channel=current_channel(session, municipality_id))
        audit.record(session, actor=actor, action="referral.retry", object_type="referral", object_id=referral.id,
                     case_id=referral.case_id, origin=origin)  # fmt: skip
    session.flush()
    return len(failed)
