"""What a municipality's ZGW settings may point at: https only in production, and a secret only from a
ZGW_SECRET_… variable, so that an administrator cannot make the client sign its tokens with SECRET_KEY or carry
DATABASE_URL's password to a server of their choosing (docs/zgw.md)."""

from __future__ import annotations

import pytest

from integrations.municipal.zgw import ZgwInvalidInput, read_secret
from tests.zgw.conftest import config_for
from tests.zgw.stub import ZgwStub

ENVIRON = {
    "ZGW_SECRET_GM0363": "gemeente-geheim-van-minstens-32-bytes-lang",
    "SECRET_KEY": "the-application-signing-key-0123456789",
    "DATABASE_URL": "postgresql+psycopg://app:wachtwoord@db/schuldroute",
    "ZGW_SECRET_LEEG": "",
}


def test_the_secret_comes_from_its_own_variable() -> None:
    assert read_secret("ZGW_SECRET_GM0363", ENVIRON) == ENVIRON["ZGW_SECRET_GM0363"]


@pytest.mark.parametrize("variable", ["SECRET_KEY", "DATABASE_URL", "ZGW_SECRET_", "zgw_secret_gm0363", "", None])
def test_no_other_variable_can_be_named(variable: str | None) -> None:
    with pytest.raises(ZgwInvalidInput) as refused:
        read_secret(variable, ENVIRON)

    assert refused.value.errors["zgw_secret_setting"] == "Alleen een omgevingsvariabele ZGW_SECRET_… is toegestaan."
    assert "wachtwoord" not in str(refused.value)
    assert "signing" not in str(refused.value)


@pytest.mark.parametrize("variable", ["ZGW_SECRET_LEEG", "ZGW_SECRET_ONBEKEND"])
def test_an_empty_or_missing_secret_is_named_without_a_value(variable: str) -> None:
    with pytest.raises(ZgwInvalidInput, match="zgw_secret_setting"):
        read_secret(variable, ENVIRON)


def test_production_refuses_plain_http_even_to_this_machine(zgw_stub: ZgwStub) -> None:
    assert zgw_stub.zaken_url.startswith("http://127.0.0.1")
    config_for(zgw_stub)  # development and tests may talk to a local stub

    with pytest.raises(ZgwInvalidInput) as refused:
        config_for(zgw_stub, https_only=True)

    assert refused.value.errors == {
        "zaken_api_url": "Moet een https-adres zijn.",
        "documenten_api_url": "Moet een https-adres zijn.",
    }
