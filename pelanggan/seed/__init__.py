"""`pelanggan seed`: the example company of the product brief, built through the public HTTP APIs.

``plan`` is a pure function of the seed and the size options (``build_plan``); ``loader`` sends a
plan to the five running services. Each phase of the company has a module of its own.
"""
