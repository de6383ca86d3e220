"""Datasets: built-in suites, local/hub loaders, chat encoding, mixtures."""
