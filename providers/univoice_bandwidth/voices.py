"""Bandwidth's text-to-speech table: neutral language tags <-> SpeakSentence locales, and
the named voices (BW-DOCS ``bxml/speakSentence.mdx``; voices are Amazon Polly's).

Bandwidth writes locales with an underscore and, for most languages, without a region
(``en_US``, ``en_UK``, ``de``, ``es_MX``). A neutral tag is accepted with or without its
usual region (``de`` and ``de-DE`` both speak ``de``); the canonical tag (first in each
row) is what a locale reads back as.
"""

from __future__ import annotations

# canonical neutral tag, other accepted tags, Bandwidth locale
_LOCALES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("en-US", ("en",), "en_US"),
    ("en-GB", ("en-UK",), "en_UK"),
    ("de-DE", ("de",), "de"),
    ("es-ES", ("es",), "es"),
    ("es-MX", (), "es_MX"),
    ("es-US", (), "es_US"),
    ("fr-FR", ("fr",), "fr"),
    ("fr-CA", (), "fr_CA"),
    ("it-IT", ("it",), "it"),
    ("ja-JP", ("ja",), "ja"),
    ("ru-RU", ("ru",), "ru"),
    ("arb", ("ar",), "arb"),
    ("cmn-CN", ("zh-CN",), "cmn-CN"),
)
LOCALE_OF: dict[str, str] = {
    tag.lower(): locale for canonical, others, locale in _LOCALES
    for tag in (canonical, *others)
}
LANGUAGE_OF: dict[str, str] = {locale.lower(): canonical for canonical, _, locale in _LOCALES}
LANGUAGES: tuple[str, ...] = tuple(canonical for canonical, _, _ in _LOCALES)

# voice -> (locale, gender); "enhanced" (neural) voices cost extra at Bandwidth.
VOICES: dict[str, tuple[str, str]] = {
    "julie": ("en_US", "female"), "kate": ("en_US", "female"),
    "susan": ("en_US", "female"), "ruth": ("en_US", "female"),
    "dave": ("en_US", "male"), "paul": ("en_US", "male"), "stephen": ("en_US", "male"),
    "bridget": ("en_UK", "female"), "simon": ("en_UK", "male"),
    "katrin": ("de", "female"), "stefan": ("de", "male"),
    "esperanza": ("es", "female"), "violeta": ("es", "female"), "jorge": ("es", "male"),
    "rosa": ("es_MX", "female"),
    "lupe": ("es_US", "female"), "pedro": ("es_US", "male"),
    "jolie": ("fr", "female"), "bernard": ("fr", "male"),
    "gabrielle": ("fr_CA", "female"), "liam": ("fr_CA", "male"),
    "paola": ("it", "female"), "luca": ("it", "male"),
    "masako": ("ja", "female"), "kenji": ("ja", "male"),
    "nadiya": ("ru", "female"), "anatoli": ("ru", "male"),
    "zeina": ("arb", "female"),
    "zhiyu": ("cmn-CN", "female"),
}


def locale(language: str) -> str | None:
    """The SpeakSentence locale for a neutral tag; None when Bandwidth has no voice for it."""
    return LOCALE_OF.get(language.lower())


def language(locale_value: str) -> str | None:
    """The canonical neutral tag of a SpeakSentence locale (None if unknown)."""
    return LANGUAGE_OF.get(locale_value.lower())
