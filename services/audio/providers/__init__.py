"""Speech providers, one module each."""
