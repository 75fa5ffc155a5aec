"""Images providers, one module each, all behind `base.ImagesProvider`."""
