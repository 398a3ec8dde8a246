"""The WeChat protocol: signatures, the safe-mode envelope, pushes in, passive replies out, the API, the menu."""
