"""piyasa's shared market domain: vocabulary and classifiers, pure and offline.

- `assets`: canonical assets with TR/EN aliases and tickers (`resolve("BTC/USD") == "BTC"`).
- `stance`: the `StanceClassifier` interface and its offline lexicon implementation.
- `holdings`: first-person holding claims ("hic almadim", "I don't own any").
- `text`: Turkish-aware folding and tokens.

No I/O: the guard and the scheduler call these with text and get data back.
"""

from piyasa_domain.assets import ASSETS, BY_ID, Asset, find_mentions, related, resolve
from piyasa_domain.holdings import HoldingClaim, detect_holding_claims
from piyasa_domain.stance import (
    BEARISH,
    BULLISH,
    NEUTRAL,
    ClassifierTuning,
    LexiconStanceClassifier,
    StanceClassifier,
    StanceReading,
    topic_key,
)
from piyasa_domain.text import fold, tokenize

__all__ = [
    "ASSETS",
    "BEARISH",
    "BULLISH",
    "BY_ID",
    "NEUTRAL",
    "Asset",
    "ClassifierTuning",
    "HoldingClaim",
    "LexiconStanceClassifier",
    "StanceClassifier",
    "StanceReading",
    "detect_holding_claims",
    "find_mentions",
    "fold",
    "related",
    "resolve",
    "tokenize",
    "topic_key",
]
