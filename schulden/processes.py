"""The registry of Schuldroute's processes and the engine that runs them.

Versions: when a definition changes in a way that would change running instances, add a new version next to the
old one (the old stays registered, running cases keep it) instead of editing it in place.
"""

from __future__ import annotations

from schulden.cases.workflow import build_case_process
from schulden.debts.workflow import build_debt_process
from schulden.settings import Settings
from workflows import Engine, Registry


def build_registry(settings: Settings | None = None) -> Registry:
    """Every process definition, configured from the settings (e.g. the referral window)."""
    weeks = settings.referral_window_weeks if settings else 6
    return Registry(build_case_process(weeks), build_debt_process())


def build_engine(settings: Settings | None = None) -> Engine:
    """The engine over the registry, with the Dutch working-day calendar."""
    return Engine(build_registry(settings))
