"""The coach's words: a Finnish and English message catalogue, and feedback that quotes the reply.

    items = feedback_for(assessment, analysis, lang="fi", model_answers=["Ymmärrän …"])
    items["customer"].text      # 'Ohjaat asiakkaan muualle: “ei kuulu meille”. Ota asia …'

For each dimension the coach names what carried the verdict: when it is not good, the strongest
rule that pulled the score down among those whose detector is sure of what it saw (``NAMED_FROM``;
quoting the sentence that carries its signal), and otherwise what was missing; when it is good, the
strongest rule that lifted it. Strengths are always reported separately, so
the learner hears what went well before the one thing to change. Rule names and the messages
they point to are in coach/rubric.yaml; docs/rubric.md explains them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from coach.analysis import ReplyAnalysis, sentence_signal_dict
from coach.rubric import Contribution, DimensionAssessment, Rule

QUOTE_LIMIT = 140
MIN_EFFECT = 0.08  # contributions smaller than this are not worth a sentence
# A problem is named (and its sentence quoted) only when the detector behind it reads at least this
# much, on the whole reply or on one sentence (``sureness``): the lowest probability at which a named
# problem was in the reply's gold moves at least three times in four (eval/feedback_precision.py,
# docs/rubric.md). Below it, "you blamed the customer" would too often accuse a learner of what they
# did not do.
NAMED_FROM = 0.8

MESSAGES: dict[str, dict[str, str]] = {
    # own experience: self-regulation
    "own_irritation": {
        "en": "Irritation leaks through in “{quote}”. Notice it, breathe out, and choose the words you want the customer to hear.",
        "fi": "Ärtymys kuultaa läpi kohdassa ”{quote}”. Huomaa se, hengitä ulos ja valitse sanat, jotka haluat asiakkaan kuulevan.",
    },
    "own_sarcasm": {
        "en": "“{quote}” reads as sarcasm. Whatever you feel, the customer hears contempt; say the plain thing instead.",
        "fi": "”{quote}” kuulostaa piikittelyltä. Asiakas kuulee sen halveksuntana; sano asia suoraan ja asiallisesti.",
    },
    "own_dismissive": {
        "en": "“{quote}” sounds dismissive. Check what you are feeling before you answer, then answer the person.",
        "fi": "”{quote}” kuulostaa vähättelevältä. Tunnista oma tunteesi ennen vastausta ja vastaa sitten ihmiselle.",
    },
    "own_panic": {
        "en": "“{quote}” sounds anxious. Slow down: one calm apology and one clear step steady both of you.",
        "fi": "”{quote}” kuulostaa hätääntyneeltä. Hidasta: yksi rauhallinen pahoittelu ja yksi selkeä askel rauhoittavat teitä molempia.",
    },
    "own_helpless": {
        "en": "“{quote}” sounds helpless. Even when you cannot fix everything, say what you *can* do.",
        "fi": "”{quote}” kuulostaa avuttomalta. Vaikket voisi ratkaista kaikkea, kerro mitä *voit* tehdä.",
    },
    "own_defensive": {
        "en": "“{quote}” defends you rather than helping the customer. You don't need to win this; you need to move it forward.",
        "fi": "”{quote}” puolustaa sinua eikä auta asiakasta. Tilannetta ei tarvitse voittaa, se pitää viedä eteenpäin.",
    },
    "own_mirroring": {
        "en": "The customer is upset and “{quote}” answers in the same key. Lower your own voice first; they will follow.",
        "fi": "Asiakas on kiihtynyt ja ”{quote}” vastaa samalla äänensävyllä. Laske ensin omaa sävyäsi, asiakas seuraa.",
    },
    "own_curt": {
        "en": "“{quote}” is very short. A curt answer can sound like impatience even when you mean none.",
        "fi": "”{quote}” on hyvin lyhyt. Tyly vastaus voi kuulostaa kärsimättömältä, vaikket tarkoittaisi sitä.",
    },
    "own_brush_off": {
        "en": "“{quote}” neither helps, asks nor acknowledges: it reads as giving up on the customer. Even when you are worn out, say one thing you can do.",
        "fi": "”{quote}” ei auta, kysy eikä huomioi asiakasta: se kuulostaa luovuttamiselta. Vaikka olisit väsynyt, kerro yksi asia, jonka voit tehdä.",
    },
    "own_leak": {
        "en": "In “{quote}” your own reaction shows through. Before you answer, name to yourself what the customer needs, and answer that.",
        "fi": "Kohdassa ”{quote}” oma reaktiosi näkyy läpi. Ennen kuin vastaat, sano itsellesi mitä asiakas tarvitsee, ja vastaa siihen.",
    },
    "own_composed": {
        "en": "Composed: you stayed in charge of your own reaction (“{quote}”).",
        "fi": "Rauhallinen: pysyit oman reaktiosi herrana (”{quote}”).",
    },
    "own_almost": {
        "en": "Nearly composed. Read your reply once as the customer will hear it, and smooth any edge before you send it.",
        "fi": "Melkein rauhallinen. Lue vastauksesi kerran asiakkaan korvin ja hio mahdollinen särmä pois ennen lähettämistä.",
    },
    "own_reaction_shows": {
        "en": "Your own reaction is showing in this reply. Pause, breathe out, and answer what the customer needs rather than how you feel.",
        "fi": "Oma reaktiosi näkyy tässä vastauksessa. Pysähdy, hengitä ulos ja vastaa siihen, mitä asiakas tarvitsee, älä siihen, miltä sinusta tuntuu.",
    },
    "own_missing": {
        "en": "Your tone is not quite settled yet. Take a moment before replying and choose a calm, steady wording.",
        "fi": "Sävysi ei ole vielä aivan tasainen. Pysähdy hetkeksi ennen vastausta ja valitse rauhallinen sanamuoto.",
    },
    # others' experience: respect and acknowledgement
    "others_acknowledged": {
        "en": "You acknowledged the customer's feeling: “{quote}”.",
        "fi": "Tunnistit asiakkaan tunteen: ”{quote}”.",
    },
    "others_apology": {
        "en": "A sincere apology shows respect: “{quote}”.",
        "fi": "Aito pahoittelu osoittaa kunnioitusta: ”{quote}”.",
    },
    "others_warm": {
        "en": "Your warmth comes through: “{quote}”.",
        "fi": "Lämpösi välittyy: ”{quote}”.",
    },
    "others_respectful": {
        "en": "Respectful and courteous: “{quote}”.",
        "fi": "Kunnioittava ja kohtelias: ”{quote}”.",
    },
    "others_listening": {
        "en": "Asking shows you are listening: “{quote}”.",
        "fi": "Kysymys näyttää, että kuuntelet: ”{quote}”.",
    },
    "others_blame": {
        "en": "“{quote}” puts the blame on the customer. Leave out who was wrong and talk about what happens now.",
        "fi": "”{quote}” sysää syyn asiakkaalle. Jätä syyllisen etsiminen pois ja puhu siitä, mitä nyt tehdään.",
    },
    "others_sarcasm": {
        "en": "“{quote}” belittles the customer. However it was meant, it lands as disrespect.",
        "fi": "”{quote}” vähättelee asiakasta. Tarkoitit sitä miten tahansa, se tuntuu epäkunnioittavalta.",
    },
    "others_dismissive": {
        "en": "“{quote}” brushes the customer's concern aside. Show that you take it seriously.",
        "fi": "”{quote}” sivuuttaa asiakkaan huolen. Näytä, että otat sen vakavasti.",
    },
    "others_irritation": {
        "en": "The customer will hear the edge in “{quote}” before the content.",
        "fi": "Asiakas kuulee kohdan ”{quote}” sävyn ennen sisältöä.",
    },
    "others_policy": {
        "en": "“{quote}” answers with a rule, not to the person. Say what the rule means for them and what you can do.",
        "fi": "”{quote}” vastaa säännöllä eikä ihmiselle. Kerro mitä sääntö tarkoittaa hänelle ja mitä voit tehdä.",
    },
    "others_curt": {
        "en": "“{quote}” gives the customer nothing to hold on to. A few words that show you heard them change a lot.",
        "fi": "”{quote}” ei anna asiakkaalle mitään tarttumapintaa. Muutama sana, joka näyttää että kuulit, muuttaa paljon.",
    },
    "others_almost": {
        "en": "Nearly there. Make the respect unmistakable: name what you hear the customer feel, and leave out anything that could sound like a correction.",
        "fi": "Melkein. Tee kunnioitus selväksi: sanoita, minkä tunteen kuulet asiakkaalta, ja jätä pois kaikki, mikä voi kuulostaa ojentamiselta.",
    },
    "others_lands_badly": {
        "en": "This is likely to land badly: nothing in it shows you heard the customer, and the tone can read as a brush-off. Start from what they feel.",
        "fi": "Tämä osuu asiakkaaseen todennäköisesti huonosti: siitä ei näy, että kuulit häntä, ja sävy voi kuulostaa tylyltä. Aloita siitä, miltä hänestä tuntuu.",
    },
    "others_missing": {
        "en": "The reply is polite but does not show you heard how the customer feels. Name the feeling before the facts.",
        "fi": "Vastaus on asiallinen, mutta ei näytä, että kuulit miltä asiakkaasta tuntuu. Sanoita tunne ennen faktoja.",
    },
    # customer experience: ownership and a concrete next step
    "customer_next_step": {
        "en": "Concrete next step: “{quote}”.",
        "fi": "Konkreettinen seuraava askel: ”{quote}”.",
    },
    "customer_ownership": {
        "en": "You took ownership: “{quote}”.",
        "fi": "Otit asian omaksesi: ”{quote}”.",
    },
    "customer_clarifying": {
        "en": "A good clarifying question: “{quote}”. Follow it with what you will do.",
        "fi": "Hyvä tarkentava kysymys: ”{quote}”. Kerro sen jälkeen, mitä teet.",
    },
    "customer_deflects": {
        "en": "“{quote}” sends the customer elsewhere without owning it: the desk-to-desk bounce. Take them there yourself or call the colleague.",
        "fi": "”{quote}” ohjaa asiakkaan muualle ottamatta asiaa omaksesi – pompottelua. Vie hänet itse perille tai soita kollegalle.",
    },
    "customer_policy": {
        "en": "“{quote}” stops at the rule. Offer what *is* possible within it.",
        "fi": "”{quote}” pysähtyy sääntöön. Tarjoa se, mikä säännön puitteissa *on* mahdollista.",
    },
    "customer_blame": {
        "en": "“{quote}” spends the turn on fault instead of a fix.",
        "fi": "”{quote}” käyttää vuoron syyllisyyteen eikä ratkaisuun.",
    },
    "customer_curt": {
        "en": "“{quote}” leaves the customer where they were. Add what happens next.",
        "fi": "”{quote}” jättää asiakkaan tyhjän päälle. Kerro mitä seuraavaksi tapahtuu.",
    },
    "customer_vague": {
        "en": "You offered help: “{quote}”. Make it concrete: what happens next, and when.",
        "fi": "Tarjosit apua: ”{quote}”. Tee siitä konkreettinen: mitä seuraavaksi tapahtuu ja milloin.",
    },
    "customer_answered": {
        "en": "You answered the question in full: “{quote}”.",
        "fi": "Vastasit kysymykseen suoraan ja kokonaan: ”{quote}”.",
    },
    "customer_empathy_only": {
        "en": "“{quote}” shows you care, but the customer still has no help. Add what you will do, and when.",
        "fi": "”{quote}” näyttää, että välität, mutta asiakas ei vielä saa apua. Kerro, mitä teet ja milloin.",
    },
    "customer_flustered": {
        "en": "“{quote}” hands the customer your worry instead of a way forward. Say one thing you will do now.",
        "fi": "”{quote}” antaa asiakkaalle huolesi eikä suuntaa. Kerro yksi asia, jonka teet nyt.",
    },
    "customer_almost": {
        "en": "Nearly there. Make the help unmistakable: say what you will do yourself, and by when.",
        "fi": "Melkein. Tee avusta yksiselitteistä: kerro, mitä teet itse ja mihin mennessä.",
    },
    "customer_missing": {
        "en": "The customer does not yet know what happens next. Own the case and name one concrete step, with a time if you can.",
        "fi": "Asiakas ei vielä tiedä, mitä seuraavaksi tapahtuu. Ota asia omaksesi ja nimeä yksi konkreettinen askel, mieluiten aikataulun kanssa.",
    },
    "model_answer": {"en": "For example: “{quote}”", "fi": "Esimerkiksi: ”{quote}”"},
    # the one thing to practise next, by the weakest dimension
    "practise_own": {
        "en": "Before you answer, notice your first reaction and name it to yourself (“I'm getting irritated”). "
              "Then choose the reply you would be proud of.",
        "fi": "Ennen kuin vastaat, huomaa ensimmäinen reaktiosi ja nimeä se itsellesi (”nyt mua ärsyttää”). "
              "Valitse sitten vastaus, josta voit olla ylpeä.",
    },
    "practise_others": {
        "en": "Start with the person: say what you hear them feel (“that sounds really frustrating”) before any facts or rules.",
        "fi": "Aloita ihmisestä: sano, minkä tunteen kuulet (”kuulostaa tosi turhauttavalta”), ennen faktoja tai sääntöjä.",
    },
    "practise_customer": {
        "en": "End every reply with ownership and one concrete step: what you will do, and when.",
        "fi": "Päätä jokainen vastaus niin, että otat asian omaksesi ja kerrot yhden konkreettisen askeleen: mitä teet ja milloin.",
    },
}

# The verdict readings (rules with the message "own_leak") tell *that* the worker's own state
# leaked; the strongest of these signals tells *how*, so the feedback names the leak when one of
# them is clearly present, and keeps the general message when none is.
LEAK_KINDS = (("move.sarcasm", "own_sarcasm"), ("move.defensive_or_irritated", "own_defensive"),
              ("move.blames_customer", "own_defensive"), ("move.panicked_or_helpless", "own_helpless"),
              ("tone.irritated", "own_irritation"), ("tone.anxious", "own_panic"), ("tone.dismissive", "own_dismissive"),
              ("tone.downcast", "own_helpless"))  # fmt: skip
LEAK_KIND_FROM = 0.5

# A good verdict that no single rule carried (a composed reply is the default, not a feat).
GOOD_WITHOUT_RULE = {"own": "own_composed", "others": "others_respectful", "customer": "customer_next_step"}
# Verdicts that are not good although no problem is sure enough to name: a poor one, and a mixed one
# with something to build on (otherwise the dimension's `missing` message says what is missing).
POOR_UNNAMED = {"own": "own_reaction_shows", "others": "others_lands_badly", "customer": "customer_missing"}
ALMOST = {"own": "own_almost", "others": "others_almost", "customer": "customer_almost"}
_STOP_AFTER_QUOTE = re.compile(r"([.!?…])([”\"])\.")

# The learner's one-tap check-in before the first turn, and the coarse tones the coach reads:
# the report sets the two side by side.
CHECKIN_NAMES = {
    "calm": {"en": "calm", "fi": "rauhallinen"},
    "energetic": {"en": "energetic", "fi": "virkeä"},
    "tired": {"en": "tired", "fi": "väsynyt"},
    "stressed": {"en": "stressed", "fi": "stressaantunut"},
    "irritated": {"en": "irritated", "fi": "ärtynyt"},
    "anxious": {"en": "anxious", "fi": "jännittynyt"},
    "low": {"en": "low", "fi": "maassa"},
}
TONE_NAMES = {
    "calm": {"en": "calm", "fi": "rauhallinen"},
    "warm": {"en": "warm", "fi": "lämmin"},
    "apologetic": {"en": "apologetic", "fi": "pahoitteleva"},
    "irritated": {"en": "irritated", "fi": "ärtynyt"},
    "dismissive": {"en": "dismissive", "fi": "vähättelevä"},
    "anxious": {"en": "anxious", "fi": "hätääntynyt"},
    "downcast": {"en": "downcast", "fi": "alakuloinen"},
}

DIMENSION_NAMES = {
    "own": {"en": "Own experience", "fi": "Oma kokemus"},
    "others": {"en": "Others' experience", "fi": "Toisen kokemus"},
    "customer": {"en": "Customer experience", "fi": "Asiakaskokemus"},
}
VERDICT_NAMES = {
    "good": {"en": "good", "fi": "hyvä"},
    "mixed": {"en": "mixed", "fi": "osittain"},
    "poor": {"en": "needs work", "fi": "harjoiteltavaa"},
}


def message(key: str, lang: str, **values: str) -> str:
    entry = MESSAGES[key]
    return entry.get(lang, entry["en"]).format(**values)


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class DimensionFeedback:
    dimension: str
    verdict: str
    score: float
    text: str  # what carried the verdict, quoting the reply
    strength: str | None  # what went well on this dimension, if anything did
    suggestion: str | None  # a model answer from the scenario, when the verdict is not good
    rule: str | None  # the message key of the rule that carried the verdict, for reports
    # how sure the detector behind a named problem was (``sureness``); None when nothing was named
    # by a rule of its own (a strength, a missing step, or a leak kind read from the verdict readings)
    named_sureness: float | None = None

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "score": round(self.score, 4), "text": self.text,
                "strength": self.strength, "suggestion": self.suggestion, "rule": self.rule}  # fmt: skip


def _quoted(key: str, signal: str, analysis: ReplyAnalysis, lang: str) -> str:
    text = message(key, lang, quote=shorten(analysis.strongest_sentence(signal)))
    return _STOP_AFTER_QUOTE.sub(r"\1\2", text)  # “… the worst.” rather than “… the worst.”.


def sureness(contribution: Contribution, analysis: ReplyAnalysis) -> float:
    """How sure the detector behind a rule is: its reading of the whole reply or of its strongest sentence,
    whichever is higher (one sharp sentence inside a helpful reply reads weaker as a whole)."""
    evidence = contribution.rule.evidence
    return max([contribution.evidence_value, *(s.get(evidence, 0.0) for s in analysis.sentence_signals)])


def _leak_kind(analysis: ReplyAnalysis) -> tuple[str, str]:
    """The message and evidence signal that name how the worker's own state leaked (see LEAK_KINDS)."""
    values = sentence_signal_dict(analysis.tone_scores, analysis.moves)
    signal, key = max(LEAK_KINDS, key=lambda kind: values[kind[0]])
    return (key, signal) if values[signal] >= LEAK_KIND_FROM else ("own_leak", "reading.own_not_good")


def _names_a_problem(rule: Rule) -> bool:
    """A verdict reading says *that* a dimension falls short, not *what* fell short. The own reading's leak
    can still be named (LEAK_KINDS); the others' and customer readings leave the naming to the detectors of
    single moves, and when none of those is sure, to the messages for a verdict no problem explains."""
    return not rule.signal.startswith("reading.") or rule.message == "own_leak"


def feedback_for(assessment: dict[str, DimensionAssessment], analysis: ReplyAnalysis, lang: str,
                 model_answers: list[str] | None = None) -> dict[str, DimensionFeedback]:  # fmt: skip
    out = {}
    for name, result in assessment.items():
        named_sureness = None
        positives = [c for c in result.contributions if c.amount >= MIN_EFFECT]
        named = [c for c in result.contributions
                 if c.amount <= -MIN_EFFECT and sureness(c, analysis) >= NAMED_FROM and _names_a_problem(c.rule)]
        strength = _quoted(positives[0].rule.message, positives[0].rule.evidence, analysis, lang) if positives else None
        if result.verdict == "good":
            rule = positives[0].rule.message if positives else result.missing_message
            text = strength or _quoted(GOOD_WITHOUT_RULE[name], "", analysis, lang)
        elif named:  # the strongest pull down among the problems the detectors are sure of
            carrier = named[0].rule
            if carrier.message == "own_leak":
                rule, evidence = _leak_kind(analysis)
            else:
                rule, evidence, named_sureness = carrier.message, carrier.evidence, sureness(named[0], analysis)
            text = _quoted(rule, evidence, analysis, lang)
        else:  # weak signals together, or something missing: coach towards good without naming a fault
            if result.verdict == "poor":
                rule = POOR_UNNAMED[name]
            else:
                rule = ALMOST[name] if positives else result.missing_message
            text = message(rule, lang)
        suggestion = None
        if result.verdict != "good" and model_answers:
            suggestion = message("model_answer", lang, quote=shorten(model_answers[0], 240))
        out[name] = DimensionFeedback(name, result.verdict, result.score, text, strength, suggestion, rule, named_sureness)
    return out
