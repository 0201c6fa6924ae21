"""Logging, correlation ids and metrics shared by every service."""
