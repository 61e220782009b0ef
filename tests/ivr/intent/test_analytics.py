"""After-call analytics: configured phrases spotted in transcripts, a sentiment score."""

from __future__ import annotations

import pytest

from ivr.intent.analytics import Spotted, sentiment, spot_phrases

SPOTTING = {
    "cancellation_threat": {
        "en": ["cancel my contract", "switch to another provider"],
        "ar": ["ألغي العقد"],
    },
    "competitor": {"en": ["Etisalat", "du"], "ar": ["اتصالات"]},
    "legal": {"en": ["lawyer", "court"], "ar": ["محامي", "محكمة"]},
}


def test_configured_phrases_are_found_with_their_category_and_count() -> None:
    transcript = (
        "If this isn't fixed I will cancel my contract and switch to another provider, "
        "Etisalat offered me more. My LAWYER says... cancel my contract, I said."
    )
    assert spot_phrases(transcript, SPOTTING) == [
        Spotted("cancellation_threat", "cancel my contract", 2),
        Spotted("cancellation_threat", "switch to another provider", 1),
        Spotted("competitor", "Etisalat", 1),
        Spotted("legal", "lawyer", 1),
    ]


def test_arabic_spelling_variants_and_joined_particles_are_forgiven() -> None:
    transcript = "والله بروح للمحكمه وبكلم محامي، وبدي الغي العقد وأروح لاتصالات"
    assert [(s.category, s.phrase) for s in spot_phrases(transcript, SPOTTING)] == [
        ("cancellation_threat", "ألغي العقد"),
        ("competitor", "اتصالات"),
        ("legal", "محامي"),
        ("legal", "محكمة"),
    ]


@pytest.mark.parametrize("transcript", ["", "during the call", "in the courtyard"])
def test_phrases_match_whole_words_only(transcript: str) -> None:
    assert (
        spot_phrases(transcript, {"competitor": {"en": ["du"]}, "legal": {"en": ["court"]}}) == []
    )


@pytest.mark.parametrize(
    "transcript",
    [
        "thank you so much, that was really helpful, great service",
        "perfect, it's working now, thanks",
        "شكرا جزيلا، الخدمة ممتازة والله يعطيك العافية",
        "تمام مشكور، اشتغل النت",
        "no problem at all, thanks",
    ],
)
def test_pleased_callers_score_positive(transcript: str) -> None:
    assert sentiment(transcript) > 0.2


@pytest.mark.parametrize(
    "transcript",
    [
        "this is ridiculous, the worst service, I'm fed up and I will cancel",
        "I'm not happy, it's still broken again",
        "الخدمة زفت وأنا زعلان جدا",
        "للأسف النت خربان ومو معقول هالشي",
        "it is not good",
    ],
)
def test_angry_callers_score_negative(transcript: str) -> None:
    assert sentiment(transcript) < -0.2


@pytest.mark.parametrize("transcript", ["", "my account number is 4 5 6", "ابي اعرف الفاتوره"])
def test_no_sentiment_words_score_zero(transcript: str) -> None:
    assert sentiment(transcript) == 0.0


def test_scores_stay_within_minus_one_and_one_and_intensifiers_weigh_more() -> None:
    angry = " ".join(["terrible"] * 200)
    assert -1.0 < sentiment(angry) < -0.98
    assert sentiment("very good") > sentiment("good") > 0
