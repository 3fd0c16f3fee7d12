"""pytyche: adaptive A/B/N experiments with heterogeneous treatment effects."""
