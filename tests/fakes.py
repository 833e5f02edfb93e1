"""A fake analyzer for fast engine tests: reads tone, moves and verdict readings from cue phrases, no model.

Its outputs are plain ReplyAnalysis objects, the same type the real analyzer returns, so the
session engine, rubric and feedback run exactly as in production.
"""

from __future__ import annotations

from coach.analysis import ReplyAnalysis, sentence_signal_dict, split_sentences
from coach.labels import COARSE_TONES, SERVICE_MOVES, VERDICT_READINGS

TONE_CUES = {
    "irritated": ("!!", "ärsyttää", "annoying", "for god's sake", "voi hyvä luoja"),
    "dismissive": ("whatever", "ihan sama", "not my problem", "ei mun ongelma"),
    "anxious": ("oh no", "voi ei", "i don't know what to do", "en tiedä mitä tehdä"),
    "downcast": ("nothing i can do", "en voi mitään"),
    "apologetic": ("sorry", "pahoittelen", "anteeksi"),
    "warm": ("thank you", "kiitos", "glad", "ilo"),
}
MOVE_CUES = {
    "acknowledges_feeling": ("i understand", "frustrating", "ymmärrän", "harmittaa", "turhauttavaa"),
    "apologises": ("sorry", "apolog", "pahoittelen", "anteeksi"),
    "takes_ownership": ("i'll sort", "i will sort", "i'll handle", "hoidan", "selvitän"),
    "concrete_next_step": ("today", "tomorrow", "by 10", "tänään", "huomenna", "klo", "right now", "heti"),
    "asks_clarifying": ("?",),
    "deflects": ("not our department", "ask at", "ei kuulu meille", "kysy infosta", "kysykää"),
    "blames_customer": ("you should have", "your fault", "olisit", "teidän vika"),
    "hides_behind_policy": ("rules are rules", "policy", "säännöt on säännöt", "sääntö"),
    "sarcasm": ("as i already said", "kuten jo sanoin", "wow, really"),
    "defensive_or_irritated": ("not our fault", "ei meidän vika", "no need to shout", "ei tarvii huutaa"),
    "panicked_or_helpless": ("oh no", "voi ei", "i don't know what to do", "en tiedä mitä tehdä"),
    "vague_promise": ("we'll look into it", "katotaan", "katsotaan"),
}


# The own-verdict readings follow docs/rubric.md: an open leak is poor, a defensive one only mixed.
# The other dimensions' readings stay low: the rule table reads only the own ones.
OPEN_LEAKS = ("tone.irritated", "tone.dismissive", "tone.anxious", "move.sarcasm", "move.panicked_or_helpless")
MILD_LEAKS = ("move.defensive_or_irritated", "move.blames_customer")


def _read(text: str) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    lower = text.lower()
    tone_scores = {t: (0.9 if any(c in lower for c in TONE_CUES.get(t, ())) else 0.05) for t in COARSE_TONES}
    moves = {m: (0.97 if any(c in lower for c in MOVE_CUES[m]) else 0.05) for m in SERVICE_MOVES}
    strongest = max((t for t in COARSE_TONES if t != "calm"), key=tone_scores.get)
    tone_scores["calm"] = 1.0 - tone_scores[strongest]
    present = {f"tone.{t}" for t, v in tone_scores.items() if v > 0.5} | {f"move.{m}" for m, v in moves.items() if v > 0.5}
    readings = dict.fromkeys(VERDICT_READINGS, 0.05)
    readings["own_poor"] = 0.9 if present.intersection(OPEN_LEAKS) else 0.05
    readings["own_not_good"] = 0.9 if present.intersection(OPEN_LEAKS + MILD_LEAKS) else 0.05
    return tone_scores, moves, readings


class KeywordAnalyzer:
    def __init__(self):
        self.calls: list[tuple[list[str], str | None]] = []

    def analyze(self, replies, lang=None):
        self.calls.append((list(replies), lang))
        out = []
        for reply in replies:
            tone_scores, moves, readings = _read(reply)
            tone = max(tone_scores, key=tone_scores.get)
            sentences = split_sentences(reply)
            sentences = sentences if len(sentences) > 1 else []
            per_sentence = [sentence_signal_dict(*_read(s)) for s in sentences]
            out.append(ReplyAnalysis(reply, tone, tone_scores[tone], tone_scores, moves, sentences, per_sentence, readings=readings))
        return out


# A skilled learner's replies for scenarios/telecom-technician.yaml, read by the keyword cues above.
SKILLED_TELECOM_REPLIES = [
    "Three missed visits is awful and I'm sorry. I'll sort this out myself, can I check your address?",
    "I understand. I'll handle it: I'm booking a priority visit for tomorrow by 10 and I'll call you today.",
    "I'm sorry. I'll sort the refund right now and call you tomorrow by 10 to confirm.",
    "Thank you. I'll handle it and call you tomorrow by 10.",
    "I'll sort it today and call you tomorrow by 10.",
    "I'll sort it today.",
]
