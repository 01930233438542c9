"""One file per experiment; each defines get_config(smoke=False) -> Experiment."""
