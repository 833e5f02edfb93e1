"""Does a reply grant what a customer's yes/no question asked? ("Käykö kortti?" "Totta kai!")

    grants_request("Can we sit outside?", "Of course!")       # True
    grants_request("Onks teillä kauramaitoa?", "No on!")      # True: a -ko/-kö question, its verb echoed
    grants_request("Can I get it without cream?", "Can't.")   # False: a no leaves the customer waiting
    grants_request("Kauanko tässä menee?", "Joo.")            # False: asks for a time, not a yes

docs/rubric.md counts a direct, complete answer to a simple question as the solution ("Yes, till
ten."): after "Totta kai!" to "Käykö täällä kortti?" there is nothing left for the customer to wait
for, though the moves model reads no step in two words. Only a *yes* counts here. A bare *no*
("Loppu.", "Can't.") answers the question but leaves the customer where they were unless the reply
offers something else, and the moves model reads that offer. The rule table reads this as
``context.grants_request`` (coach/rubric.py).

The question's own form decides the language's test: an English question opens with an auxiliary
("Do you…", "Can we…"), a Finnish one has the -ko/-kö (spoken -ks) clitic on its first word.
Questions that ask *what*, *when* or *how long* ("Do you know when…", "Kauanko…") are left out:
a yes does not answer them.
"""

from __future__ import annotations

import re

_QUESTION = re.compile(r"[^.!?]*\?")
_WORD = re.compile(r"\w+(?:['’]\w+)?")  # contractions stay one word: "can't", "don’t"
_LEADING_COURTESY = re.compile(
    r"^(?:(?:hi|hello|hey|excuse me|sorry|please|so|ok|okay|um|moi|hei|terve|anteeks[ie]?|sori|no|kuule|tota)\b[\s,!.]*)+"
)
_ENGLISH_AUXILIARIES = frozenset("do does did can could may might is are was were will would have has should shall am".split())
_WH_WORDS = frozenset(
    "what when where which who whom whose why how whether if "
    "mikä mitä mitkä missä mistä mihin milloin miksi miks miten kuinka kuka ketkä kenen kumpi "
    "kauanko paljonko montako moneltako monelta mones".split()
)
# -ko/-kö, -kos/-kös and the spoken -ks, optionally followed by -han/-hän; not words that merely end so.
_FINNISH_QUESTION_WORD = re.compile(r"(\w+?)(?:ko|kö|kos|kös|ks)(?:han|hän)?")
_NOT_A_QUESTION_CLITIC = frozenset({"kaks", "anteeks", "miks", "koks"})

_ENGLISH_YES = re.compile(
    r"^(?:yes|yeah|yep|yup|sure|of course|certainly|absolutely|definitely|indeed|totally|you bet|go ahead|no problem|"
    r"(?:we|you|it|they|i|she|he|there) (?:sure |certainly |absolutely )?"
    r"(?:do|does|can|could|may|is|are|will|have|has))\b(?!['’]t|\s+not\b)"
)
_FINNISH_YES = frozenset("kyllä joo juu jep jees toki tottakai tietysti tietenkin ehdottomasti onnistuu käy sopii kelpaa".split())
_FINNISH_YES_PAIRS = ("totta kai", "ilman muuta")
_FINNISH_EXCLAMATIONS = ("voi että", "voi voi", "voi ei", "voi hyvänen", "voi luoja", "voi kamala", "voi harmi")
_NEGATIONS = frozenset(
    "ei en et emme ette eivät valitettavasti ikävä sorry unfortunately afraid no not nope never cannot can't won't don't".split()
)


def _questions(line: str) -> list[list[str]]:
    """The words of each question sentence in ``line``, lower-cased, courtesies at its start dropped."""
    out = []
    for sentence in _QUESTION.findall(line.lower()):
        sentence = _LEADING_COURTESY.sub("", sentence.strip(" \t\n,;:-–—\"'“”"))
        words = _WORD.findall(sentence)
        if words:
            out.append(words)
    return out


def _finnish_question_verb(words: list[str]) -> str | None:
    """The stem of the clitic-marked word that opens a Finnish yes/no question ("käykö" -> "käy")."""
    match = _FINNISH_QUESTION_WORD.fullmatch(words[0])
    if match and words[0] not in _NOT_A_QUESTION_CLITIC and len(match.group(1)) >= 2:
        return match.group(1)
    return None


def _yes_no_form(words: list[str]) -> str | None:
    """When ``words`` are a yes/no question, the stem of the verb a Finnish yes echoes ("" for an English
    question, whose yes echoes nothing); None for any other sentence."""
    if _WH_WORDS.intersection(words):
        return None
    if words[0] in _ENGLISH_AUXILIARIES:
        return ""
    return _finnish_question_verb(words)


def grants_request(customer_line: str | None, reply: str) -> bool:
    """Whether ``reply`` opens with a yes to a yes/no question in ``customer_line``."""
    forms = [form for form in (_yes_no_form(words) for words in _questions(customer_line or "")) if form is not None]
    if not forms:
        return False
    words = _WORD.findall(reply.lower())
    stems = [form for form in forms if form]
    if stems and words[:1] == ["no"]:  # the Finnish "No, totta kai" opens with a particle, not a no
        words = words[1:]
    opening = " ".join(words[:4])
    negated = _NEGATIONS.intersection(opening.replace("no problem", "").split())
    if not opening or negated or opening.startswith(_FINNISH_EXCLAMATIONS):
        return False
    if _ENGLISH_YES.match(opening):
        return True
    first = opening.split()[0]
    if first in _FINNISH_YES or opening.startswith(_FINNISH_YES_PAIRS):
        return True
    # A Finnish yes echoes the question's verb: "Saako?" "Saa!", "Onko?" "On.", "Voinko?" "Voitte."
    return any(first == stem or (len(stem) >= 3 and first.startswith(stem[:3])) for stem in stems)
