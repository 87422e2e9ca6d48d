"""Adapters to municipal systems: a referral sent as a ZGW case (`zgw`).

Takes plain values only (no ORM objects): the domain decides what goes to the municipality, this package only
speaks the municipality's protocol.
"""
