"""The station's Qt-free core: session engine, store, identity, consent, CLI."""

__version__ = "0.1.0"
