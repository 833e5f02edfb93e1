"""The vocabularies every part of Palvelupeili shares.

Scenario scripts branch on these names, the classifier heads predict them and the coach's
rubric reads them, so they are defined once here. Changing a name is a breaking change for
every bundled scenario file.
"""

from __future__ import annotations

LANGUAGES: tuple[str, ...] = ("fi", "en")

# The three relations of the self-regulation model (Fischer & Vainio 2015).
DIMENSIONS: tuple[str, ...] = ("own", "others", "customer")

VERDICTS: tuple[str, ...] = ("good", "mixed", "poor")

# Coarse tone of a worker's reply, derived from the emotion heads (see coach/tone.py).
COARSE_TONES: tuple[str, ...] = (
    "calm",  # composed, neutral-to-positive
    "warm",  # caring, friendly, grateful
    "apologetic",  # remorse, regret
    "irritated",  # annoyance, anger leaking through
    "dismissive",  # disapproval, contempt, sarcasm
    "anxious",  # nervousness, fear, panic
    "downcast",  # sadness, helplessness
)

# What a reply does in the encounter, detected by the service-moves model (coach/moves.py).
SERVICE_MOVES: tuple[str, ...] = (
    "acknowledges_feeling",  # names or validates the customer's feeling
    "apologises",  # says sorry for the situation or the company's part in it
    "takes_ownership",  # "I will sort this out" instead of passing it on
    "concrete_next_step",  # a specific action, time, or solution
    "asks_clarifying",  # asks a question to understand the case
    "deflects",  # sends the customer to another desk, department, or channel
    "blames_customer",  # blames, lectures, or corrects the customer
    "hides_behind_policy",  # "those are the rules" with no help around it
    "sarcasm",  # sarcasm or passive aggression: "as I already said..."
    # The worker's own state leaking into the words (the own-experience dimension):
    "defensive_or_irritated",  # snapping back, exasperation, defending oneself at the customer's expense
    "panicked_or_helpless",  # fluster, repeated frantic apologies, "I don't know what to do", giving up
    "vague_promise",  # "we'll look into it": help promised, but no action, time or person the customer can hold on to
)

# The moves model also reads each dimension's verdict straight from the words (coach/moves.py), as
# two ordinal probabilities per dimension: "<dimension>_not_good" (the reply falls short of good)
# and "<dimension>_poor". They are trained on the verdicts the project labelled its replies with.
VERDICT_READINGS: tuple[str, ...] = tuple(f"{d}_{level}" for d in DIMENSIONS for level in ("not_good", "poor"))
