"""The Pelanggan services, one package each; no service imports another's modules."""
