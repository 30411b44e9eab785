"""The plan profile: what a deployer says about their plan that the documents cannot (its names, its regions and
the words that signal them, where to send a question nobody can answer, the areas staff sort answers into).

It is data, never code: a ``profile.yaml`` beside the ingested documents (ingest keeps it with the index) or the
file ``PA_PROFILE`` names. Without one the assistant assumes nothing about any plan: no regions, no plan names,
the contact directory's most printed desk for unanswered questions, generic answer areas."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.errors import AssistantError
from assistant.schema import Chunk

PROFILE_FILE = "profile.yaml"
PROFILE_META = "plan_profile"  # catalog meta key: the profile ingest found, as JSON

# What to look up first when a question reports harm to a member: the notification duty (what a manual that has
# one words it with).
URGENT_QUERY = "sentinel event report notify immediately within 24 hours"

# The areas of a provider manual, for staff triage: name -> words of a document title or section heading. A
# profile may list its own instead (programs, product lines).
GENERIC_CATEGORIES: dict[str, str] = {
    "utilization management": r"utilization|authori[sz]ation|referral|admission notification|timely notification",
    "eligibility": r"eligibility|benefits determination",
    "billing": r"billing|claim|payment|remittance|coordination of benefits|\bedi\b",
    "rights and responsibilities": r"rights and responsibilities|recipient rights|member rights",
    "quality and credentialing": r"quality|credential|sentinel|peer review",
    "compliance": r"compliance|fraud|code of conduct",
    "medicare": r"medicare",
    "medicaid": r"medicaid",
}


class ProfileError(AssistantError):
    pass


class RegionSpec(BaseModel):
    """One region of the plan: its name, what marks a document as the region's, and what a question says."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    documents: list[str] = Field(default=[], description="Substrings (any case) of a document's `region` field in "
                                 "the manifest that make it this region's (default: the region's name).")
    names: list[str] = Field(default=[], description="Words and phrases that name the region (a state, a city, the "
                             "region's program name): in a question they say where, not what it is about.")
    signals: list[str] = Field(default=[], description="Words and phrases only this region's questions use (its "
                               "programs, agencies, letters): they say what and imply where.")
    fallback_contact: str | None = Field(default=None, description="A pattern that finds, in the contact "
                                         "directory, where to send this region's questions the sources do not answer.")


class ProfileSpec(BaseModel):
    """The YAML file's shape (see the README's "Plan profile")."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    plan_names: list[str] = Field(default=[], description="What providers call the plan (\"Acme Health\", "
                                  "\"AH\"): these words name no topic and no department.")
    regions: list[RegionSpec] = []
    default_region: str | None = Field(default=None, description="The region a question naming none is about.")
    fallback_contact: str | None = Field(default=None, description="A pattern for the contact to route "
                                         "unanswered questions to, when the region names none.")
    urgent_query: str | None = None
    categories: dict[str, str] = Field(default={}, description="Answer areas for staff triage, in the order they "
                                       "are tried: name -> pattern of a document title or heading (default: "
                                       "generic areas).")


@dataclass(frozen=True)
class Region:
    name: str
    documents: tuple[str, ...]
    names: re.Pattern[str] | None  # what says where
    words: re.Pattern[str] | None  # what says where or implies it (names and signals)
    fallback_contact: str | None
    name_list: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanProfile:
    """The profile as the assistant uses it. ``PlanProfile()`` is the neutral one."""

    plan_names: tuple[str, ...] = ()
    regions: tuple[Region, ...] = ()
    default_region: str | None = None
    fallback_contact: str | None = None
    urgent_query: str = URGENT_QUERY
    categories: tuple[tuple[str, re.Pattern[str]], ...] = field(
        default_factory=lambda: tuple((n, re.compile(p, re.I)) for n, p in GENERIC_CATEGORIES.items()))
    source: str = "none"  # where it came from, for logs and /api/health

    @classmethod
    def from_spec(cls, spec: ProfileSpec, source: str) -> PlanProfile:
        regions = tuple(Region(r.name, tuple(d.lower() for d in (r.documents or [r.name])), phrases(r.names),
                               phrases([*r.names, *r.signals]), r.fallback_contact, (r.name, *r.names))
                        for r in spec.regions)
        names = {r.name for r in regions}
        if spec.default_region and spec.default_region not in names:
            raise ProfileError(f"plan profile {source}: default_region {spec.default_region!r} is not one of the "
                               f"regions {sorted(names)}")
        categories = []
        for name, pattern in (spec.categories or GENERIC_CATEGORIES).items():
            try:
                categories.append((name, re.compile(pattern, re.I)))
            except re.error as exc:
                raise ProfileError(f"plan profile {source}: category {name!r}: {exc}") from None
        plan_names = tuple(sorted(spec.plan_names, key=len, reverse=True))  # the longest first, as text is searched
        return cls(plan_names, regions, spec.default_region, spec.fallback_contact, spec.urgent_query or URGENT_QUERY,
                   tuple(categories), source)

    @classmethod
    def parse(cls, data: Any, source: str) -> PlanProfile:
        try:
            spec = ProfileSpec.model_validate(data or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ProfileError(f"plan profile {source}: {where}: {first['msg']}") from None
        return cls.from_spec(spec, source)

    @classmethod
    def read(cls, path: Path) -> PlanProfile:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ProfileError(f"plan profile {path}: {exc}") from None
        return cls.parse(data, str(path))

    # regions
    def detect_region(self, text: str) -> str | None:
        """The region a text names, if exactly one."""
        named = [r.name for r in self.regions if r.words is not None and r.words.search(text)]
        return named[0] if len(named) == 1 else None

    def region_of(self, chunk: Chunk) -> str | None:
        """The region a chunk's document is marked as (its manifest's ``region`` field)."""
        if not chunk.region or not self.regions:
            return None
        lowered = chunk.region.lower()
        return next((r.name for r in self.regions if any(d in lowered for d in r.documents)), None)

    def region_names(self, text: str) -> list[str]:
        """The stretches of a text that name a region (a state, a city): they say where, not what."""
        return [m.group() for r in self.regions if r.names is not None for m in r.names.finditer(text)]

    @property
    def place_names(self) -> tuple[str, ...]:
        """Every region's names as the profile writes them, but those matched only as written ("StateCare": in
        lower case it may be another word)."""
        return tuple(n for r in self.regions for n in r.name_list if not _EXACT_CASE.search(n))

    def fallback_for(self, region: str | None) -> str | None:
        spec = next((r for r in self.regions if r.name == (region or self.default_region)), None)
        return (spec.fallback_contact if spec else None) or self.fallback_contact

    # the plan's own names
    @property
    def name_words(self) -> frozenset[str]:
        """The lower-case words of the plan's names ("acme", "health", "ah")."""
        return frozenset(w for n in self.plan_names for w in re.findall(r"[a-z0-9]+", n.lower()))

    def name_prefix(self) -> re.Pattern[str] | None:
        """The plan's name at the start of a department's name ("Acme Member Services")."""
        if not self.plan_names:
            return None
        names = sorted(self.plan_names, key=len, reverse=True)
        return re.compile(r"^(?:" + "|".join(map(re.escape, names)) + r")\s+(?=\S)")

    def category(self, texts: Sequence[str]) -> str:
        """The area an answer belongs to: named by the first text (document title, then heading) a pattern
        finds, else "general"."""
        for text in texts:
            for name, pattern in self.categories:
                if pattern.search(text):
                    return name
        return "general"



_EXACT_CASE = re.compile(r"[a-z][A-Z]")  # a capital inside a word: "StateCare"


def phrases(words: Sequence[str]) -> re.Pattern[str] | None:
    """One pattern finding any of ``words`` as whole words: any case (a word written with a capital inside it,
    "StateCare", only as written, so that it never finds the word "statecare"), a hyphen or a space between parts
    alike ("State-Care", "state care"), a plural s allowed ("APLs")."""
    if not words:
        return None
    parts = []
    for w in sorted(set(words), key=len, reverse=True):
        body = r"[-\s]+".join(re.escape(p) for p in re.split(r"[-\s]+", w.strip()) if p)
        exact = bool(_EXACT_CASE.search(w))
        parts.append(f"(?-i:{body})" if exact else body)
    return re.compile(r"\b(?:" + "|".join(parts) + r")s?\b", re.IGNORECASE)


NEUTRAL = PlanProfile()


def stored(path: Path) -> str:
    """A profile file as the catalog keeps it (checked first: a bad profile fails the ingest, not the service)."""
    PlanProfile.read(path)
    return json.dumps({"source": str(path), "data": yaml.safe_load(path.read_text(encoding="utf-8"))})


def from_stored(text: str | None) -> PlanProfile:
    if not text:
        return NEUTRAL
    entry = json.loads(text)
    return PlanProfile.parse(entry["data"], entry["source"])


def find_profile(paths: Sequence[Path]) -> Path | None:
    """The ``profile.yaml`` of the first ingested folder that has one (beside its manifest)."""
    for p in paths:
        candidate = p / PROFILE_FILE if p.is_dir() else None
        if candidate is not None and candidate.is_file():
            return candidate
    return None
