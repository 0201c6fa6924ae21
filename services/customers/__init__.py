"""Customers service: profiles from the first contact, consents, managers, interactions,
consultations and announcements (port 8001)."""
