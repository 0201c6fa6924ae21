"""What may be given as a company gift.

Two checks, both applied when a gift is added or changed and again when an award names it (the
word list may have grown since the gift was filed):

1. **Category, from a closed list.** Allowed: the categories in ``ALLOWED_CATEGORIES``. Refused
   by name with their own rule: personal items, clothing (footwear included) and jewellery
   (watches included). Anything else is not on the list and refused too.
2. **Words in the name and the description**, English and Malay/Indonesian, so that a personal
   item filed under an allowed category ("gold bracelet" under electronics) is still refused.
   Text is lower-cased, accents are stripped, and it is cut into words at anything that is not a
   letter or digit; a term matches whole words only ("ring" matches "gold ring" but not
   "earring", which has its own entry, nor "string"); multi-word terms ("jam tangan", "minyak
   wangi") match as consecutive words. English plurals are listed where they differ. One
   exception keeps an obvious verb legal: "watch" right after "to" ("tickets to watch the
   match") is not a wristwatch.

The check is deliberately strict: a false refusal names the word, and the manager rewords the
item; a false acceptance would put a bracelet on the company's books.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

ALLOWED_CATEGORIES: dict[str, str] = {
    "household_appliances": "household appliances (kitchen, cleaning, climate)",
    "computers_electronics": "computers, phones, audio and other electronics",
    "gift_certificates": "gift certificates for goods and services",
    "event_tickets": "tickets to entertainment events (concerts, cinema, sport, theatre)",
    "books_media": "books, subscriptions and media",
    "home_furnishings": "furniture and furnishings for the home",
}
REFUSED_CATEGORIES: dict[str, str] = {
    "personal_items": "personal-items",
    "personal_care": "personal-items",
    "cosmetics": "personal-items",
    "perfume": "personal-items",
    "bags_accessories": "personal-items",
    "clothing": "clothing",
    "apparel": "clothing",
    "footwear": "clothing",
    "jewellery": "jewellery",
    "jewelry": "jewellery",
    "watches": "jewellery",
}
RULE_DESCRIPTIONS = {
    "personal-items": "personal items are not allowed as company gifts",
    "clothing": "clothing and footwear are not allowed as company gifts",
    "jewellery": "jewellery and watches are not allowed as company gifts",
}

# term -> rule. English and Malay/Indonesian; multi-word terms match consecutive words.
REFUSED_WORDS: dict[str, str] = {
    # jewellery and watches
    **dict.fromkeys([
        "watch", "watches", "wristwatch", "wristwatches", "smartwatch", "smartwatches", "ring", "rings",
        "necklace", "necklaces", "bracelet", "bracelets", "bangle", "bangles", "earring", "earrings",
        "pendant", "pendants", "brooch", "brooches", "jewellery", "jewelry", "jewel", "jewels", "anklet",
        "cufflinks",
        "jam tangan", "arloji", "cincin", "kalung", "gelang", "anting", "anting anting", "liontin",
        "perhiasan", "subang",
    ], "jewellery"),
    # clothing and footwear
    **dict.fromkeys([
        "shirt", "shirts", "tshirt", "tshirts", "blouse", "blouses", "dress", "dresses", "skirt", "skirts",
        "trousers", "pants", "jeans", "jacket", "jackets", "coat", "coats", "sweater", "sweaters", "hoodie",
        "hoodies", "scarf", "scarves", "tie", "necktie", "socks", "underwear", "lingerie",
        "shoe", "shoes", "sneakers", "trainers", "boots", "sandals", "heels", "slippers", "clothing", "clothes",
        "apparel",
        "kemeja", "baju", "kaos", "kaus", "blus", "gaun", "rok", "celana", "jaket", "mantel", "sweter", "syal",
        "dasi", "kaus kaki", "stoking", "pakaian", "busana", "sepatu", "kasut", "sandal", "selipar", "tudung",
        "jilbab", "hijab", "kebaya",
    ], "clothing"),
    # other personal items
    **dict.fromkeys([
        "perfume", "perfumes", "fragrance", "cologne", "cosmetics", "makeup", "lipstick", "handbag",
        "handbags", "purse", "wallet", "wallets", "sunglasses", "razor", "shaver",
        "minyak wangi", "parfum", "wangian", "kosmetik", "gincu", "dompet", "tas tangan", "kacamata hitam",
    ], "personal-items"),
}
_MAX_TERM_WORDS = max(len(term.split()) for term in REFUSED_WORDS)


@dataclass(frozen=True)
class GiftRefusal:
    rule: str  # personal-items | clothing | jewellery | category-not-listed
    field: str  # category | name | description
    matched: str
    detail: str


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    # "t-shirt" and "t shirt" are one word for the list; other hyphens separate words.
    folded = re.sub(r"\bt[\s\-]+shirt", "tshirt", folded)
    return re.findall(r"[^\W_]+", folded)


def refused_word(text: str) -> tuple[str, str] | None:
    """The first refused (term, rule) found in ``text``, if any."""
    words = _words(text)
    for i in range(len(words)):
        for size in range(_MAX_TERM_WORDS, 0, -1):
            if i + size > len(words):
                continue
            term = " ".join(words[i:i + size])
            rule = REFUSED_WORDS.get(term)
            if rule is None:
                continue
            if term == "watch" and i > 0 and words[i - 1] == "to":
                continue
            return term, rule
    return None


def check_gift(*, category: str, name: str, description: str | None) -> GiftRefusal | None:
    """Why this gift may not be given (None: it may)."""
    category = category.strip().lower()
    if category in REFUSED_CATEGORIES:
        rule = REFUSED_CATEGORIES[category]
        return GiftRefusal(rule=rule, field="category", matched=category,
                           detail=f"category {category}: {RULE_DESCRIPTIONS[rule]}")
    if category not in ALLOWED_CATEGORIES:
        return GiftRefusal(rule="category-not-listed", field="category", matched=category,
                           detail=f"category {category} is not on the list of gift categories "
                                  f"({', '.join(ALLOWED_CATEGORIES)})")
    for field, text in (("name", name), ("description", description or "")):
        found = refused_word(text)
        if found is not None:
            term, rule = found
            return GiftRefusal(rule=rule, field=field, matched=term,
                               detail=f"the {field} mentions {term!r}: {RULE_DESCRIPTIONS[rule]}")
    return None
