"""Management information: outcome figures per PI and per municipality (docs/figures.md)."""
