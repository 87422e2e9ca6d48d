"""Schuldroute: the domain of detainees' debts and the web application that serves it."""
