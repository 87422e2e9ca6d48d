"""Referrals: the warm handover of a case to the municipality (letter L8, domain.md sections 4 and 9.1)."""
