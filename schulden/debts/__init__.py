"""Debts: one per creditor claim, each carried through the debt process."""
