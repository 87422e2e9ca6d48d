"""Creditor replies: through the reply page (code or QR link on a letter) or entered by a counsellor."""
