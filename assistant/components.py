"""The parts of ranking, answering and abstention that can be switched off one by one (``PA_DISABLED``, or
``provider-assistant eval --ablate`` to measure what each buys on every question set)."""

from __future__ import annotations

from dataclasses import dataclass

# name -> what switching it off removes
COMPONENTS: dict[str, str] = {
    # ranking
    "lexicon": "office shorthand and lay phrases added to the question's search words (assistant/lexicon.py)",
    "spelling": "misspelled question words corrected to the documents' words",
    "abbreviations": "abbreviations the documents define spelled out in the search words, and the reverse",
    "feedback": "pseudo-relevance feedback: rare words shared by the top passages added to the BM25 query",
    "query_adapter": "the question vector mapped by the adapter fitted on the documents' own sentences",
    "sentence_ranking": "chunks also ranked by their one sentence closest to the question (a third fused list)",
    "answer_kind_boost": "passages that give the kind of answer asked for (a time, a contact) preferred",
    "region_preference": "passages of another region than the question's demoted",
    "named_document": "passages of documents that do not print a name the question uses (a program, a system) "
                      "demoted; a question naming none answered with another document's sentence that says the "
                      "same with other numbers quoted beside",
    "edition_preference": "superseded editions demoted, unless the question asks for the old rule",
    "glossary_penalty": "glossary and definition sections demoted unless a definition is asked for",
    "diversify": "at most two chunks of one section in the top ten",
    "follow_up_merge": "a follow-up's own words searched alone and fused beside the carried topic",
    "topic_change": "a later turn with a topic of its own is a new question (off: any short turn is a follow-up)",
    # answers
    "answer_meaning": "answer sentences chosen by meaning (sentence vectors) beside shared words",
    "answer_context": "the rest of a hit's section offered as answer sentences",
    # abstention
    "check_request": "refuse requests to write letters or documents",
    "check_off_topic": "refuse questions no provider manual covers (weather, restaurants, parking)",
    "check_code": "refuse a billing code no document mentions",
    "check_place": "refuse a US state no document mentions",
    "check_name": "refuse a name (product, vendor, drug) no document or common English uses",
    "check_amount": "refuse a money question whose passages print no amount",
    "check_address": "refuse an address question whose passages print no postal address",
    "check_duration": "refuse a time question whose passages print no time (or none of the unit asked)",
    "check_coverage": "refuse 'is X covered' or 'can we use X' when no document names X",
    "check_payer": "refuse a question about another insurer's rules (a large US payer no document names)",
    "check_identifier": "refuse a question naming a code, modifier, form or region number none of the passages found "
                        "prints",
    "check_program": "refuse a value asked about a program or organisation the documents name in several capitalised "
                     "words when none of the passages found names it",
    "check_count": "refuse 'how many <things>' when no passage found prints a number of those things",
    "check_stated": "refuse a value asked for (an amount, a time, a fax or phone number, an e-mail, opening hours, a "
                    "size) when no passage found states one about what the question names",
    "low_confidence": "refuse when retrieval confidence is under the calibrated threshold",
}


class UnknownComponent(ValueError):
    pass


@dataclass(frozen=True)
class Components:
    """Which components are on (all, unless named in ``disabled``)."""

    disabled: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = sorted(self.disabled - COMPONENTS.keys())
        if unknown:
            raise UnknownComponent(f"unknown component(s) {unknown}; choose from {sorted(COMPONENTS)}")

    def on(self, name: str) -> bool:
        assert name in COMPONENTS, name
        return name not in self.disabled

    def without(self, name: str) -> Components:
        return Components(self.disabled | {name})


ALL_ON = Components()
