"""Incentives service: staff directory, product weights, weighted contribution, bonuses, gifts, recognition."""
