"""Spotting configured phrases and the lexicon sentiment (``center.call_analytics``)."""

from __future__ import annotations

from center.call_analytics import analyse, fold, sentiment, spot

PHRASES = {
    "cancellation": ["cancel my account", "close my account", "الغاء الاشتراك"],
    "competitor": ["Zain", "stc", "زين"],
    "legal": ["lawyer", "court", "محامي"],
}


def test_fold_removes_case_diacritics_and_arabic_letter_forms() -> None:
    assert fold("I'll CANCEL, now!") == fold("i'll cancel now")
    assert fold("إلغاءُ الاشتراكِ") == fold("الغاء الاشتراك")
    assert fold("مدرسة") == fold("مدرسه")


def test_spot_english_on_word_boundaries_any_case() -> None:
    text = "I want to CANCEL my account, my lawyer says STC is cheaper"
    assert spot(text, PHRASES) == {
        "cancellation": ["cancel my account"],
        "competitor": ["stc"],
        "legal": ["lawyer"],
    }
    assert spot("the courtyard of zainab", PHRASES) == {}


def test_spot_arabic_with_diacritics_and_hamza() -> None:
    text = "بدي إلغاءَ الاشتراك وبروح على زين، وعندي مُحامي"
    assert spot(text, PHRASES) == {
        "cancellation": ["الغاء الاشتراك"],
        "competitor": ["زين"],
        "legal": ["محامي"],
    }


def test_sentiment_english_with_negation() -> None:
    assert sentiment("thank you, that was great") > 0
    assert sentiment("this is terrible, I am angry") < 0
    assert sentiment("I am not happy") < 0
    assert sentiment("not bad at all, thanks") > 0
    assert sentiment("my account number is 42") == 0.0
    assert -1.0 < sentiment("the wait was terrible but the agent was great, thanks") < 1.0


def test_sentiment_arabic_with_negation() -> None:
    assert sentiment("شكرا كتير، ممتاز") > 0
    assert sentiment("انا زعلان، الخدمة سيئة") < 0
    assert sentiment("أنا مش مبسوط") < 0
    assert sentiment("مو سيء") > 0


def test_analyse_together() -> None:
    found = analyse("I will call my lawyer, this is unacceptable", PHRASES)
    assert found.categories == ["legal"]
    assert found.sentiment < 0
