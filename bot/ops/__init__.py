"""What every layer may use to be run: configuration, metrics, logs and the templates."""
