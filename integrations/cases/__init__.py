"""PDF rendering of what a case holds about its detainee: his access overview (reportlab)."""
