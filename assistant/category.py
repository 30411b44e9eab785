"""Which area of the manual an answer belongs to, for staff triage."""

from __future__ import annotations

import re

CATEGORIES: list[tuple[str, re.Pattern[str]]] = [
    ("medicaid and medi-cal programs", re.compile(r"medicaid|medi[-\s]cal|(?-i:MediCal)|\becm\b|community supports|"
                                                  r"epsdt|all plan letter|\bapl\b|cultural competency|justice", re.I)),
    ("utilization management", re.compile(r"utilization|authori[sz]ation|referral|admission notification|"
                                          r"timely notification", re.I)),
    ("eligibility", re.compile(r"eligibility|benefits determination", re.I)),
    ("billing", re.compile(r"billing|claim|payment|remittance|coordination of benefits|\bedi\b", re.I)),
    ("rights and responsibilities", re.compile(r"rights and responsibilities", re.I)),
    ("quality and credentialing", re.compile(r"quality|credential|sentinel|peer review", re.I)),
    ("compliance", re.compile(r"compliance|fraud|code of conduct|principles of responsibility", re.I)),
    ("medicare advantage", re.compile(r"medicare", re.I)),
    ("occupational health", re.compile(r"occupational", re.I)),
    ("self-funded plans", re.compile(r"self-funded", re.I)),
    ("dual choice ppo", re.compile(r"dual choice", re.I)),
]


def categorize(doc_title: str, section: str) -> str:
    """The manual area named by the document's title, else by the section's heading, else "general"."""
    for text in (doc_title, section):
        for name, pattern in CATEGORIES:
            if pattern.search(text):
                return name
    return "general"
