"""Monte Carlo proof of the estimators on the simulator (``make validate``)."""
