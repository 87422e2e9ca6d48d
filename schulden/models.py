"""Imports every model module, so the metadata knows every table (Alembic, tests)."""

from schulden import audit, corrections, idempotency, retention, stored_files  # noqa: F401
from schulden.cases import conditions as release_conditions  # noqa: F401
from schulden.cases import models as cases  # noqa: F401
from schulden.creditors import models as creditors  # noqa: F401
from schulden.debts import models as debts  # noqa: F401
from schulden.letters import models as letters  # noqa: F401
from schulden.organisations import models as organisations  # noqa: F401
from schulden.referrals import models as referrals  # noqa: F401
from schulden.replies import models as replies  # noqa: F401
from schulden.users import models as users  # noqa: F401
from workflows import store as workflow_store  # noqa: F401
