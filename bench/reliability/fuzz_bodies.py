"""Seeded mutational generator for fuzz.py: recorded valid bodies in, mutated bodies out.

Each body starts from a recorded request the server accepts (an AdmissionReview, ExtenderArgs,
a PlanRequest, ExtenderBindingArgs) and gets one to four mutations, half of them aimed at what
HCS reads (`ai.compute/*` quantities, `hcs.io/` annotations, containers, the review's own
fields), the rest anywhere in the document; about one body in twelve is broken below JSON
(empty, invalid UTF-8, truncated, flipped bytes, deep nesting, duplicate keys, over 1 MiB).
Starting from valid bodies keeps most mutants deep enough to reach the decision code, which
random JSON (what a Hypothesis `st.recursive` strategy gives) rarely gets past the schema.

Python's `random`, not Hypothesis: a mutant costs about 0.3 ms here, while the strategy of
packages/hcs-webhook/tests/test_fuzz.py draws about 4 ms an example through Hypothesis' engine
(measured on these cores, no database): some 7 minutes per 100,000 bodies before a server
answers one. Hypothesis is built to shrink a failing test, not to stream bodies at a server;
a failing body here is printed as sent, with the mutations that made it. Same seed, same bodies.
"""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from fuzz_values import (
    ANNOTATION_VALUES,
    ANNOTATIONS,
    ENUMS,
    HOT_KEYS,
    QUANTITIES,
    RESOURCES,
    STRINGS,
    WRONG_TYPES,
    Raw,
    deep,
)

Doc = Any
Path = tuple[str | int, ...]


_RAW_MARK = "\x00raw:"
_RAW_RE = re.compile(rb'"\\u0000raw:((?:[^"\\]|\\.)*)"')


def _raw_marker(value: object) -> str:
    if isinstance(value, Raw):
        return _RAW_MARK + value.text
    raise TypeError(f"cannot encode {type(value).__name__}")


def _unraw(match: re.Match[bytes]) -> bytes:
    text: str = json.loads(b'"' + match[1] + b'"')  # the marker's text, JSON-unescaped
    return text.encode()


def encode(doc: Doc, ascii_only: bool = True) -> bytes:
    """`doc` as JSON, with every Raw written as its text. Lone surrogates become the invalid
    UTF-8 a careless client sends when `ascii_only` is off."""
    text = json.dumps(doc, default=_raw_marker, ensure_ascii=ascii_only, allow_nan=True)
    data = text.encode("utf-8", "surrogatepass")
    return _RAW_RE.sub(_unraw, data) if b"\\u0000raw:" in data else data


def _walk(doc: Doc, limit: int = 24, width: int = 40) -> list[tuple[Any, str | int, Path]]:
    """Every (container, key, path) in `doc` down to depth `limit`, the first `width` items of
    each list: iterative, so a document nested thousands deep by an earlier mutation does not
    exhaust the stack, and bounded, so one grown to 20,000 items stays cheap to walk."""
    out: list[tuple[Any, str | int, Path]] = []
    stack: list[tuple[Any, Path]] = [(doc, ())]
    while stack:
        node, path = stack.pop()
        if len(path) >= limit:
            continue
        items = node.items() if isinstance(node, dict) else enumerate(node[:width])
        for key, value in items:
            out.append((node, key, (*path, key)))
            if isinstance(value, dict | list) and value:
                stack.append((value, (*path, key)))
    return out


def _is_hot(path: Path) -> bool:
    key = path[-1]
    if isinstance(key, str) and (key in HOT_KEYS or key.startswith(("ai.compute/", "hcs.io/"))):
        return True
    return len(path) > 1 and path[-2] in ("requests", "limits", "annotations", "containers")


def paths_of(doc: Doc) -> tuple[list[Path], list[Path]]:
    """Every path in `doc`, and the hot ones."""
    every = [path for _, _, path in _walk(doc)]
    return every, [path for path in every if _is_hot(path)]


def _resolve(doc: Doc, path: Path) -> tuple[Any, str | int, Path] | None:
    """(container, key, path) of `path` in `doc`, or None where `doc` has no such place."""
    node = doc
    try:
        for key in path[:-1]:
            node = node[key]
    except (KeyError, IndexError, TypeError):
        return None
    key = path[-1]
    if isinstance(node, dict) and key in node:
        return node, key, path
    if isinstance(node, list) and isinstance(key, int) and key < len(node):
        return node, key, path
    return None


def pods_in(doc: Doc) -> list[dict[str, Any]]:
    """The Pod objects inside a body: a review's object/oldObject, ExtenderArgs' Pod, a plan's."""
    found = []
    holders = [doc, doc.get("request")] if isinstance(doc, dict) else []
    for holder in holders:
        if isinstance(holder, dict):
            for key in ("object", "oldObject", "Pod", "pod"):
                if isinstance(holder.get(key), dict):
                    found.append(holder[key])
    return found


class Mutator:
    """The mutation operators; each takes the document and returns a description of what it did
    (for the report), or None when it found nothing to work on."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ops: list[tuple[Callable[[Doc], str | None], int]] = [
            (self.drop, 10), (self.rename, 6), (self.retype, 12), (self.quantity, 10),
            (self.string, 8), (self.nest, 2), (self.duplicate, 6), (self.compute, 16),
            (self.zero_only, 5), (self.annotation, 12), (self.enum, 8), (self.grow, 1),
        ]  # fmt: skip
        self.paths: tuple[list[Path], list[Path]] = ([], [])
        """Every path of the body's seed, and those HCS reads (set by BodyMaker per body)."""
        self._choices = [op for op, _ in self.ops]
        self._weights = [weight for _, weight in self.ops]

    def apply(self, doc: Doc) -> str | None:
        op = self.rng.choices(self._choices, self._weights)[0]
        return op(doc)

    # -- where
    def _spot(self, doc: Doc) -> tuple[Any, str | int, Path] | None:
        """A place in `doc`: half the time one HCS reads. Drawn from the seed's own paths (a
        walk per mutation would cost more than the server's answer), resolved in `doc`; a
        path an earlier mutation removed is drawn again, then `doc` itself is walked."""
        every, hot = self.paths
        for _ in range(3):
            pool = hot if hot and self.rng.random() < 0.5 else every
            found = _resolve(doc, self.rng.choice(pool)) if pool else None
            if found is not None:
                return found
        spots = _walk(doc)
        return self.rng.choice(spots) if spots else None

    def _container(self, doc: Doc) -> tuple[dict[str, Any], str] | None:
        pods = pods_in(doc)
        pod = self.rng.choice(pods) if pods else None
        spec = pod.get("spec") if pod else None
        if not isinstance(spec, dict):
            return None
        lists = [k for k in ("containers", "initContainers") if isinstance(spec.get(k), list)]
        if not lists:
            return None
        key = self.rng.choice(lists)
        items = [c for c in spec[key] if isinstance(c, dict)]
        if not items:
            return None
        return self.rng.choice(items), key

    # -- what
    def drop(self, doc: Doc) -> str | None:
        spot = self._spot(doc)
        if spot is None:
            return None
        parent, key, path = spot
        del parent[key]
        return f"drop {_dotted(path)}"

    def rename(self, doc: Doc) -> str | None:
        spot = self._spot(doc)
        if spot is None or not isinstance(spot[0], dict):
            return None
        parent, key, path = spot
        new = self.rng.choice([str(key).upper(), str(key).lower(), f"{key}x", str(key)[:-1], ""])
        parent[new] = parent.pop(key)
        return f"rename {_dotted(path)} -> {new!r}"

    def _set(self, doc: Doc, values: Sequence[object], what: str) -> str | None:
        spot = self._spot(doc)
        if spot is None:
            return None
        parent, key, path = spot
        value = self.rng.choice(values)
        parent[key] = copy.deepcopy(value)
        return f"{what} {_dotted(path)} = {_short(value)}"

    def retype(self, doc: Doc) -> str | None:
        return self._set(doc, WRONG_TYPES, "retype")

    def quantity(self, doc: Doc) -> str | None:
        return self._set(doc, QUANTITIES, "quantity")

    def string(self, doc: Doc) -> str | None:
        return self._set(doc, STRINGS, "string")

    def nest(self, doc: Doc) -> str | None:
        depth = self.rng.choice([16, 200, 999, 1001, 5000, 60_000])
        return self._set(doc, [deep(depth)], f"nest{depth}")

    def duplicate(self, doc: Doc) -> str | None:
        found = self._container(doc)
        pods = pods_in(doc)
        if found is None or not pods:
            return None
        container, _ = found
        spec = self.rng.choice(pods).get("spec")
        if not isinstance(spec, dict):
            return None
        target = self.rng.choice(["containers", "initContainers"])
        twin = copy.deepcopy(container)
        if target == "initContainers" and self.rng.random() < 0.5:
            twin["restartPolicy"] = "Always"  # a sidecar of the same name
        existing = spec.get(target)
        spec[target] = [*(existing if isinstance(existing, list) else []), twin]
        return f"duplicate container {_short(container.get('name'))} into {target}"

    def compute(self, doc: Doc) -> str | None:
        found = self._container(doc)
        if found is None:
            return None
        container, where = found
        resources = container.get("resources")
        if not isinstance(resources, dict):
            resources = container["resources"] = {}
        resource, value = self.rng.choice(RESOURCES), self.rng.choice(QUANTITIES)
        sections = self.rng.choice([("requests",), ("limits",), ("requests", "limits")])
        for section in sections:
            if not isinstance(resources.get(section), dict):
                resources[section] = {}
            resources[section][resource] = copy.deepcopy(value)
        return f"{where} {'+'.join(sections)} {resource} = {_short(value)}"

    def zero_only(self, doc: Doc) -> str | None:
        """A container whose only ai.compute entry is a zero (issue 20's first 500)."""
        found = self._container(doc)
        if found is None:
            return None
        container, where = found
        zero = self.rng.choice(["0", 0, "0Gi", 0.0, "0m"])
        section = self.rng.choice(["requests", "limits"])
        container["resources"] = {section: {self.rng.choice(RESOURCES[:5]): zero}}
        return f"{where} only {section} = {zero!r}"

    def annotation(self, doc: Doc) -> str | None:
        pods = pods_in(doc)
        if not pods:
            return None
        pod = self.rng.choice(pods)
        metadata = pod.get("metadata")
        if not isinstance(metadata, dict):
            metadata = pod["metadata"] = {}
        annotations = metadata.get("annotations")
        if not isinstance(annotations, dict):
            annotations = metadata["annotations"] = {}
        key = self.rng.choice(ANNOTATIONS)
        if key.endswith("."):
            key += self.rng.choice(["train", "main", "sidecar", "x" * 70, ""])
        value = self.rng.choice(ANNOTATION_VALUES + STRINGS[:8])
        annotations[key] = copy.deepcopy(value)
        return f"annotation {key} = {_short(value)}"

    def enum(self, doc: Doc) -> str | None:
        spots = [s for s in _walk(doc) if isinstance(s[1], str) and s[1] in ENUMS]
        if not spots:
            return None
        parent, key, path = self.rng.choice(spots)
        parent[key] = self.rng.choice(ENUMS[str(key)])
        return f"enum {_dotted(path)} = {parent[key]!r}"

    def grow(self, doc: Doc) -> str | None:
        spot = self._spot(doc)
        if spot is None:
            return None
        parent, key, path = spot
        value = parent[key]
        # Objects are repeated fewer times than scalars: a grown pod spec is megabytes.
        count = self.rng.choice([10, 100] if isinstance(value, dict | list) else [100, 20_000])
        parent[key] = [value] * count  # one object referenced many times: cheap to build
        return f"grow {_dotted(path)} x{count}"


def _dotted(path: Path) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else p for p in path) or "(document)"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def broken(rng: random.Random, seed: bytes) -> tuple[bytes, str]:
    """A body broken below the JSON level, and what was done."""
    choice = rng.randrange(11)
    if choice == 0:
        return b"", "empty body"
    if choice == 1:
        return rng.randbytes(rng.randrange(1, 256)), "random bytes"
    if choice == 2:
        at = seed.find(b'"', rng.randrange(len(seed)))
        bad = rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])
        return seed[: at + 1] + bad + seed[at + 1 :], f"invalid UTF-8 {bad!r} in a string"
    if choice == 3:
        cut = rng.randrange(len(seed))
        return seed[:cut], f"truncated at byte {cut}"
    if choice == 4:
        body = bytearray(seed)
        for _ in range(rng.randrange(1, 8)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        return bytes(body), "flipped bytes"
    if choice == 5:
        top = rng.choice([b"[]", b"null", b"1", b'"x"', b"true", b"{}", b"1e400", b"NaN"])
        return top, f"top-level {top.decode()}"
    if choice == 6:
        depth = rng.choice([1001, 100_000])
        return b"[" * depth, f"{depth} open brackets"
    if choice == 7:
        return b'{"request": {}, ' + seed.lstrip()[1:], "duplicate key before the real one"
    if choice == 8:
        return b"\xef\xbb\xbf" + seed, "UTF-8 byte order mark"
    if choice == 9:
        return seed.decode().encode("utf-16"), "UTF-16"
    return seed + b" " * (1 << 20) + b"\n", "valid JSON over 1 MiB (trailing blanks)"


@dataclass(frozen=True)
class Family:
    """Seed bodies one set of endpoints takes (reviews for /mutate and /validate, ...)."""

    endpoints: tuple[str, ...]
    seeds: tuple[bytes, ...]
    weight: int = 1


class BodyMaker:
    """The stream of (endpoint, body, what was done) for one server; repeatable from `seed`."""

    def __init__(self, families: Sequence[Family], seed: int) -> None:
        self.rng = random.Random(seed)
        self.families = list(families)
        self.weights = [f.weight for f in families]
        self.mutator = Mutator(self.rng)
        self._paths = {seed: paths_of(orjson.loads(seed)) for f in families for seed in f.seeds}

    def next(self) -> tuple[str, bytes, str]:
        family = self.rng.choices(self.families, self.weights)[0]
        endpoint = self.rng.choice(family.endpoints)
        if self.rng.random() < 0.03:  # a body meant for another endpoint of the same server
            family = self.rng.choice(self.families)
        seed = self.rng.choice(family.seeds)
        if self.rng.random() < 0.08:
            body, how = broken(self.rng, seed)
            return endpoint, body, how
        doc = orjson.loads(seed)
        self.mutator.paths = self._paths[seed]
        done = [d for _ in range(self.rng.randint(1, 4)) if (d := self.mutator.apply(doc))]
        try:
            body = encode(doc, ascii_only=self.rng.random() < 0.9)
        except RecursionError:  # a nested value grown into a list of itself: send as broken
            body, done = b"[" * 5000, [*done, "too deep to encode"]
        return endpoint, body, "; ".join(done) or "unchanged"
