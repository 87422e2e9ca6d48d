"""`rq cron` configuration for production: `rq cron integrations.cron --url $REDIS_URL`.

The tick runs every 30 seconds on the `default` queue; whichever rq worker takes it fires the due timers.
Running two cron schedulers by mistake is harmless: the tick claims timers with row locks.
"""

from rq import cron

from integrations.tick import tick
from schulden.settings import Settings

# The scheduler builds nothing from the settings, but it runs in the deployment's environment: refuse to schedule
# for one that does not name SCHULDROUTE_ENV or is unsafe, as the web app and the workers do.
Settings.from_env()

cron.register(tick, "default", interval=30, job_timeout=600)
