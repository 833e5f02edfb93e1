"""Palvelupeili: a local, Finnish-and-English coaching simulator for customer-service work.

The package is organised one concern per module (see ../shared/DESIGN.md):

    coach.encoder   the embedded multilingual-e5-small encoder (or any Hugging Face model)
    coach.labels    the shared vocabularies: dimensions, coarse tones, service moves
    coach.cli       the ``coach`` command
"""

__version__ = "0.1.0"
