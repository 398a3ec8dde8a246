"""healthbot: the WeChat Official Account handler for the epidemic health-code service."""
