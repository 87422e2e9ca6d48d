"""Cases: one per detainee per detention, carried through the case process."""
