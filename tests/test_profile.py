"""The plan profile: plan knowledge is data a deployer writes; without one the assistant assumes no plan."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from assistant.components import COMPONENTS, Components, UnknownComponent
from assistant.index import IndexSnapshot
from assistant.profile import NEUTRAL, PlanProfile, ProfileError, phrases
from assistant.service import Assistant
from assistant.settings import Settings
from ingest.pipeline import Ingestor

ROOT = Path(__file__).resolve().parents[1]

MANUAL = """# Acme Health Provider Manual

## 1 Claims

Submit claims within 120 days of the date of service. Corrected claims are due within 180 days.

## 2 Contacts

Provider Services: 1-800-555-0100
Claims questions go to the Claims Unit at 1-800-555-0111.
Northern region prior authorization: call the North Authorization Line at 1-800-555-0122.
"""

PROFILE = """plan_names: ["Acme Health", "AH"]
regions:
  - name: North
    names: [North, Northland]
    signals: [NorthCare]
    fallback_contact: "North Authorization"
default_region: North
categories:
  "acme manual": "acme"
"""


def _folder(tmp_path: Path, profile: str | None) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    (docs / "manual.md").write_text(MANUAL, encoding="utf-8")
    if profile is not None:
        (docs / "profile.yaml").write_text(profile, encoding="utf-8")
    elif (docs / "profile.yaml").exists():
        (docs / "profile.yaml").unlink()
    return docs


def test_the_bundled_corpus_profile_reads_and_names_its_regions():
    profile = PlanProfile.read(ROOT / "corpus" / "profile.yaml")
    assert {r.name for r in profile.regions} == {"Northwest", "California"}
    assert profile.detect_region("do CA APLs apply?") == "California"
    assert profile.fallback_for(None) == profile.fallback_for(profile.default_region)


def test_neutral_profile_assumes_nothing():
    assert NEUTRAL.regions == () and NEUTRAL.plan_names == () and NEUTRAL.default_region is None
    assert NEUTRAL.detect_region("what about our oregon members?") is None
    assert NEUTRAL.category(["General Billing Instructions"]) == "billing"
    assert NEUTRAL.category(["Welcome"]) == "general"


@pytest.mark.parametrize(("text", "found"), [
    ("Northland members", True), ("northward", False), ("NorthCares", True), ("northcare", False),
    ("up north", True), ("northern", False),
])
def test_profile_words_are_whole_words_and_inner_capitals_match_as_written(text, found):
    pattern = phrases(["North", "Northland", "NorthCare"])
    assert pattern is not None and bool(pattern.search(text)) is found


@pytest.mark.parametrize(("text", "message"), [
    ("plan_name: [x]\n", "plan_name"),  # a misspelt key is refused, not ignored
    ("regions: [{name: A}]\ndefault_region: B\n", "default_region"),
    ("categories: {billing: '(unclosed'}\n", "billing"),
    ("regions: not-a-list\n", "regions"),
])
def test_a_bad_profile_is_refused_with_its_file_and_field(tmp_path, text, message):
    path = tmp_path / "profile.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        PlanProfile.read(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_components_are_named_and_unknown_ones_refused():
    assert Components().on("lexicon") and not Components(frozenset({"lexicon"})).on("lexicon")
    with pytest.raises(UnknownComponent):
        Components(frozenset({"no-such-part"}))
    with pytest.raises(ValueError, match="PA_DISABLED"):
        Settings(disabled=["no-such-part"])
    assert not Settings(query_adapter=False).components.on("query_adapter")
    assert all(re.fullmatch(r"[a-z_]+", name) for name in COMPONENTS)


def test_ingest_keeps_the_profile_with_the_index_and_the_assistant_uses_it(tmp_path, embedder):
    settings = Settings(data_dir=tmp_path / "data")
    docs = _folder(tmp_path, PROFILE)
    assert Ingestor(settings, embedder, progress=False).run([docs]).ok
    snapshot = IndexSnapshot.open(settings)
    assistant = Assistant(settings, snapshot, embedder)
    assert assistant.profile.plan_names == ("Acme Health", "AH") and assistant.regions == frozenset()
    answer = assistant.ask("what is the dental fee schedule for crowns?")
    assert answer["abstained"] and answer["contacts"][0]["phone"] == "1-800-555-0122"  # the region's desk
    answered = assistant.ask("how long do we have to submit a claim?")
    assert "120 days" in answered["answer"] and answered["category"] == "acme manual"

    # a broken profile stops the ingest before anything changes: the previous index and profile keep serving
    (docs / "profile.yaml").write_text("regions: [{name: A, nmes: [x]}]\n", encoding="utf-8")
    (docs / "manual.md").write_text(MANUAL.replace("120 days", "90 days"), encoding="utf-8")
    failed = Ingestor(settings, embedder, progress=False).run([docs])
    assert not failed.ok and "profile.yaml" in (failed.error or "") and "nmes" in (failed.error or "")
    assert IndexSnapshot.open(settings).version == snapshot.version

    # a rebuild without a profile drops the old one: the assistant is neutral again
    _folder(tmp_path, None)
    assert Ingestor(settings, embedder, progress=False).run([docs], rebuild=True).ok
    neutral = Assistant(settings, IndexSnapshot.open(settings), embedder)
    assert neutral.profile == NEUTRAL
    refused = neutral.ask("what is the dental fee schedule for crowns?")
    assert refused["abstained"] and refused["contacts"][0]["phone"] == "1-800-555-0100"  # a general provider desk


def test_pa_profile_overrides_the_stored_profile(tmp_path, embedder):
    docs = _folder(tmp_path, None)
    settings = Settings(data_dir=tmp_path / "data")
    assert Ingestor(settings, embedder, progress=False).run([docs]).ok
    elsewhere = tmp_path / "acme.yaml"
    elsewhere.write_text(PROFILE, encoding="utf-8")
    assistant = Assistant(settings.model_copy(update={"profile": elsewhere}), IndexSnapshot.open(settings), embedder)
    assert assistant.profile.default_region == "North"


def test_code_names_no_plan():
    """Plan knowledge lives in profiles: the code names no plan, region or program of the bundled corpus (a list
    of every US state is generic knowledge)."""
    found = subprocess.run(["grep", "-rniE", "--exclude-dir=__pycache__",
                            "kaiser|northwest|california|medi-?cal|oregon", "assistant/", "ingest/"],
                           cwd=ROOT, capture_output=True, text=True).stdout.splitlines()
    source = (ROOT / "assistant" / "answerability.py").read_text(encoding="utf-8")
    states = source[source.index("US_STATES = ("):source.index(")", source.index("US_STATES = ("))]
    assert found and all(line.startswith("assistant/answerability.py:") and line.split(":", 2)[2] in states
                         for line in found), found
