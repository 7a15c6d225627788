"""Time zones as people know them: canonical Area/City names grouped by region, with offsets.

`available_timezones()` also answers aliases (`US/Eastern`, `Asia/Calcutta`) and the `Etc/GMT+5`
kind whose sign reads backwards. The picker offers only Area/City names that the tz database
does not list as a link to another name, plus the zones `zone.tab` names for each country
(which keeps e.g. Europe/Amsterdam wherever a build of the database made it a link).
"""

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

REGIONS = (
    "Africa",
    "America",
    "Antarctica",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)
SYSTEM = Path("/usr/share/zoneinfo")


@dataclass(frozen=True)
class Zone:
    name: str  # "Europe/Berlin", what forms post
    label: str  # "Berlin (UTC+01:00)"


@dataclass(frozen=True)
class Region:
    name: str
    zones: list[Zone]


def _data_file(name: str) -> str:
    """A file of the tz database: the system's first (what ZoneInfo reads), else tzdata's."""
    try:
        return (SYSTEM / name).read_text(encoding="utf-8")
    except OSError:
        pass
    try:
        return (resources.files("tzdata") / "zoneinfo" / name).read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError):
        return ""


def _links() -> set[str]:
    return {
        line.split()[2]
        for line in _data_file("tzdata.zi").splitlines()
        if line.startswith("L ") and len(line.split()) == 3
    }


def _country_zones() -> set[str]:
    return {
        line.split("\t")[2]
        for line in _data_file("zone.tab").splitlines()
        if line and not line.startswith("#") and len(line.split("\t")) >= 3
    }


@lru_cache(maxsize=1)
def canonical() -> frozenset[str]:
    """Every zone the picker offers: UTC and canonical Area/City names."""
    links, kept = _links(), _country_zones()
    return frozenset(
        {"UTC"}
        | {
            name
            for name in available_timezones()
            if name.split("/", 1)[0] in REGIONS
            and "/" in name
            and (name not in links or name in kept)
        }
    )


def offset_text(name: str, now: datetime) -> str:
    """'UTC+01:00' as the zone's offset is at `now`."""
    offset = now.astimezone(ZoneInfo(name)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "−"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def city(name: str) -> str:
    """'America/Argentina/Buenos_Aires' → 'Argentina, Buenos Aires'."""
    return ", ".join(part.replace("_", " ") for part in name.split("/")[1:]) or name


def regions(now: datetime, extra: str | None = None) -> list[Region]:
    """The picker's groups, each zone labelled with its current offset.

    `extra` is a valid zone outside the list (an alias a browser reported), kept selectable.
    """
    grouped: dict[str, list[Zone]] = {}
    for name in sorted(canonical()):
        region = name.split("/", 1)[0] if "/" in name else "UTC"
        label = f"{city(name)} ({offset_text(name, now)})" if "/" in name else "UTC"
        grouped.setdefault(region, []).append(Zone(name, label))
    found = [Region(region, grouped[region]) for region in ("UTC", *REGIONS) if region in grouped]
    if extra and extra not in canonical():
        found.insert(0, Region("Your zone", [Zone(extra, f"{extra} ({offset_text(extra, now)})")]))
    return found


def is_canonical(name: str) -> bool:
    return name in canonical()


def _zones_by_country() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in _data_file("zone.tab").splitlines():
        parts = line.split("\t")
        if line and not line.startswith("#") and len(parts) >= 3:
            found.setdefault(parts[0].upper(), []).append(parts[2])
    return found


@lru_cache(maxsize=1)
def _country_table() -> dict[str, list[str]]:
    return _zones_by_country()


def guess(accept_language: str, now: datetime) -> str:
    """A first choice without JavaScript: the zone of the visitor's region when it has one
    offset (de-DE: Europe/Berlin), else UTC."""
    first = accept_language.split(",", 1)[0].split(";", 1)[0].strip().replace("_", "-")
    country = first.split("-")[-1].upper() if "-" in first else ""
    names = [n for n in _country_table().get(country, []) if n in canonical()]
    if names and len({offset_text(n, now) for n in names}) == 1:
        return names[0]
    return "UTC"
