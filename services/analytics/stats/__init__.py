"""Pure statistics of the analytics service: no I/O, no database, deterministic for a given input.

- ``clv``: BG/NBD (purchase frequency and dropout) and Gamma-Gamma (spend per purchase), fitted by
  maximum likelihood, and the predicted value of the next months.
- ``rfm``: recency, frequency and monetary quintile scores and the named groups.
- ``trends``: seasonal Kendall and level-shift detection over a grid of series, with Benjamini-Hochberg.
- ``slope``: the slope and direction of one short monthly series.
- ``periods``: month and ISO-week labels in the company's time zone.
"""
