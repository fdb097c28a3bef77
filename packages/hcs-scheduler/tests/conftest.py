"""Small clusters built by hand, so every expected placement can be checked by reading the test."""

from collections.abc import Callable

import numpy as np
import pytest

from hcs_exchange import Exchange, load_database
from hcs_scheduler import DeviceSpec, NodeSpec

GI = 1024**3


def node(
    name: str,
    model: str = "A100-SXM4-80G",
    devices: int = 8,
    vendor: str = "nvidia",
    vram: int = 80 * GI,
    links: int = 100,
    cpu: int = 64_000,
    memory: int = 512 * 1024,
    health: tuple[int, ...] = (),
    cordoned: tuple[int, ...] = (),
) -> NodeSpec:
    specs = tuple(
        DeviceSpec(
            id=str(i),
            model=model,
            vendor=vendor,
            vram=vram,
            health=health[i] if i < len(health) else 100,
            cordoned=i in cordoned,
        )
        for i in range(devices)
    )
    quality = tuple(tuple(0 if i == j else links for j in range(devices)) for i in range(devices))
    return NodeSpec(
        name=name, devices=specs, cpu_milli=cpu, memory_mib=memory, link_quality=quality
    )


@pytest.fixture
def make_node() -> Callable[..., NodeSpec]:
    return node


@pytest.fixture(scope="session")
def exchange() -> Exchange:
    return Exchange(load_database())


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
