"""User accounts and their roles."""
