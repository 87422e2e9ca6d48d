"""Input rules for letters and print batches, for the API and the pages alike."""

from __future__ import annotations

from schulden.fields import DutchSchema, Id


class PrintBatchIn(DutchSchema):
    pi_id = Id(required=True)
