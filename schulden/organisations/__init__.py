"""Organisations: PIs, municipalities, probation and care partners."""
