"""Model providers, one module each, all behind `base.ChatProvider`."""
