"""Orders service: the product catalogue, every purchase and its returns, and the cumulative-discount
loyalty program with each customer's ledger (port 8002)."""
