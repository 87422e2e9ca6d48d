"""PDF rendering of the standard letters (reportlab) and the reply QR code (segno)."""
