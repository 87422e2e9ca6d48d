"""PDF rendering of the referral's handover file and the detainee's B1 summary (reportlab)."""
