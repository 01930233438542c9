"""Experiments: configs, runners and results for the subspace library."""
