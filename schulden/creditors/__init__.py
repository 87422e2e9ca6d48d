"""The creditor directory: public creditors seeded from reference data, extended and corrected by users."""
