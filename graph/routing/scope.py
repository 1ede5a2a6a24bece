"""Messages outside what the copilot does: other topics, orders to change data, other languages.

Routed like requests, they reached the classifier, which has no "none of these" answer: "Book a flight to
Paris", "What's the weather in Austin?", "Delete all customers from the database" and "¿Puedo pagar con
tarjeta?" went to Support, which found nothing in the knowledge base, escalated, and put a review and a
ticket in the reviewers' queue. The supervisor now answers them itself (`graph.routing.small_talk`).

Each rule is narrow on purpose: a topic is out of scope only when the message asks for it ("the weather in
Austin", not "overlay outdoor weather data on the occupancy chart"); an order to change data only when it
is an order over a whole table or the database ("Delete all customers from the database", not "how do I
delete a user?"); a language only when its function words outnumber English ones ("we need something to
show our Betriebsrat before rollout" is English, and so is a request naming "José Muñoz").
"""

from __future__ import annotations

import re
from typing import Final, Literal

OutOfScope = Literal["travel", "weather", "data_change"]
"""Why a request is outside the copilot's work."""

_TRAVEL: Final = re.compile(
    r"\b(?:book|reserve|find me|get me|search for|look for)"
    r"(?:\s+(?:me|us|a|an|the|two|three|\d+|cheap|cheapest|direct|return|one-way|nearby))*\s+"
    r"(?:flights?|hotels?|hotel rooms?|train(?: tickets?)?|plane tickets?|rental cars?|car rentals?|taxis?|ubers?"
    r"|airbnbs?)\b"
    r"|^(?:cheap(?:est)?\s+)?(?:flights?|trains?) (?:from \w+ )?to (?-i:[A-Z])[a-z]+",
    re.IGNORECASE,
)
"""Booking travel or a taxi: the booking verb right before what is booked ("book a demo" is not travel, nor "find
me leads from hotels", "how many flights to Berlin did the team expense?")."""
_WEATHER: Final = re.compile(
    r"\bwhat(?:'s|’s| is| will)? the weather\b|\bweather (?:forecast|today|tomorrow|tonight|like|going to be"
    r"|(?:in|for|at) (?:(?-i:[A-Z])|the weekend|this|next|tomorrow|today))|\bwill it (?:rain|snow)\b"
    r"|\bis it (?:raining|snowing|sunny)\b",
    re.IGNORECASE,
)
"""Asking for the weather ("can I overlay outdoor weather data on the occupancy chart" is a product question)."""

_CHANGE_VERB: Final = r"(?:please\s+)?(?:delete|drop|truncate|wipe|erase|purge|destroy|remove|clear)"
_RECORDS: Final = (
    r"(?:customers?|users?|accounts?|records?|rows?|tables?|orders?|leads?|tickets?|campaigns?|transactions?"
    r"|subscriptions?|contacts?|everything)"
)
"""What a wholesale delete targets ("data" is left out: "delete all my data" asks for erasure, a Support topic)."""
_DATA_CHANGE: Final = re.compile(
    rf"^{_CHANGE_VERB}\s+(?:(?:all|every|each)(?:\s+(?:of\s+)?(?:the|our|your))?|the (?:entire|whole)"
    rf"|our (?:entire|whole))\s+(?:\w+\s+)?{_RECORDS}\b"
    rf"|^{_CHANGE_VERB}\s+(?:the\s+|our\s+|your\s+|this\s+)?(?:whole\s+|entire\s+)?(?:database|db|data ?warehouse|crm)\b"
    rf"|^{_CHANGE_VERB}\s+(?:\w+\s+){{0,3}}(?:from|in)\s+(?:the\s+|our\s+|your\s+)?(?:database|db|crm|tables?)\b"
    r"|\b(?:drop|truncate)\s+(?:table|database)\b|\bdelete\s+from\s+\w+",
    re.IGNORECASE,
)
"""An order to delete records wholesale ("how do I delete a user?" and "delete my data" are Support questions)."""

_WORD: Final = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_INVERTED_MARK: Final = re.compile(r"[¿¡]")
_ENGLISH: Final = frozenset(
    "the a an is are was were be been being what what's whats how why when where who which whose our we us you your"
    " i i'm me my to for of and or in on at with from by into about can could do does did have has had will would"
    " should shall may might must it it's its this that these those there their they them he she his her not no"
    " all any some much many more most last next before after than then if so just please show give tell get need"
    " want let make write send find list compare only also very our ours".split()
)
"""English function words and the commonest request verbs."""
_FOREIGN: Final = (
    frozenset(
        # Spanish
        "los las del que qué y en con por para es está están un una unos unas mis tus sus nuestro nuestra nuestros"
        " puedo puede pueden podemos quiero queremos necesito tengo tiene tenemos hay cómo como dónde cuándo cuánto"
        " cuánta cuántos cuál cuáles pero muy también hola gracias usted ustedes cuesta precio factura tarjeta pagar"
        " reembolso envío cuenta ayuda"
        # French
        " je nous vous est sont avec dans pour pas une des quel quelle quels quelles comment combien pourquoi notre"
        " nos votre vos mon mes cette ces qui où oui bonjour merci peux puis-je est-ce c'est j'ai coûte prix facture"
        " carte payer remboursement livraison compte aide"
        # German
        " ich wir ihr ist sind nicht mit für und oder das ein eine einen einem wie warum wann kann können unser"
        " unsere unseren bitte danke hallo auch mein meine haben habe gibt noch schon viel wieviel welche welcher"
        " kostet preis rechnung karte bezahlen erstattung versand konto hilfe"
        # Portuguese
        " você vocês não é são nosso nossa obrigado obrigada olá posso pode quanto quantos qual onde uma meu"
        " minha está estão tem custa preço fatura cartão reembolso entrega conta ajuda"
        # Italian
        " sono della delle il gli che questo questa perché vorrei grazie ciao nostro vostro costa prezzo fattura"
        " carta pagare rimborso spedizione".split()
    )
    - _ENGLISH
)
"""Function words and the commonest support words of Spanish, French, German, Portuguese and Italian. Name
particles ("de", "la", "van", "von", "der", "le", "du", "di", "da", "el") are left out, so a customer's
name is no evidence."""
_NON_LATIN_SHARE: Final = 0.5
"""A message whose letters are at least this share outside the Latin script is not English."""


def out_of_scope(message: str) -> OutOfScope | None:
    """Whether `message` asks for something no agent does (travel, weather, deleting data), and what.

    Args:
        message: The whole user message.

    Returns:
        The kind of out-of-scope request, or None.
    """
    text = message.strip()
    if _DATA_CHANGE.search(text):
        return "data_change"
    if _TRAVEL.search(text):
        return "travel"
    if _WEATHER.search(text):
        return "weather"
    return None


def not_english(message: str) -> bool:
    """Whether `message` is written in another language than English (the knowledge base and router are English).

    Letters mostly outside the Latin script, or Spanish, French, German, Portuguese or Italian function words
    (and "¿", "¡") that outweigh the English ones at least twice over: a foreign word or a name inside an
    English sentence is not enough.

    Args:
        message: The whole user message.

    Returns:
        True when the message is not in English.
    """
    letters = [char for char in message if char.isalpha()]
    if not letters:
        return False
    if sum(not _is_latin(char) for char in letters) >= _NON_LATIN_SHARE * len(letters):
        return True
    words = [word.lower() for word in _WORD.findall(message)]
    foreign = sum(word in _FOREIGN for word in words) + 2 * bool(_INVERTED_MARK.search(message))
    english = sum(word in _ENGLISH for word in words)
    return foreign >= 2 and foreign >= 2 * (english + 1)


def _is_latin(char: str) -> bool:
    """A letter of the Latin script (ASCII, Latin-1, Latin Extended-A/B)."""
    return ord(char) < 0x250
