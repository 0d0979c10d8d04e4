"""The house's floors, read from the code's imports (grimp, every import, those inside
functions too): what the Lambda runs at the bottom, then training, then the dev tools
(the demo's renderers among them), then the benchmark; nothing imports a floor above
its own, and no module reaches itself again through its imports."""

from __future__ import annotations

import grimp
import pytest

FLOORS = ("chalicelib", "training", "devtools", "bench")  # bottom first


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*FLOORS)


@pytest.mark.parametrize("low, high", [(a, b) for i, a in enumerate(FLOORS) for b in FLOORS[i + 1 :]])
def test_no_floor_imports_one_above_it(graph: grimp.ImportGraph, low: str, high: str) -> None:
    chain = graph.find_shortest_chain(importer=low, imported=high, as_packages=True)
    assert chain is None, " -> ".join(chain or ())


def test_no_module_imports_itself_round_a_circle(graph: grimp.ImportGraph) -> None:
    circles = [
        (module, imported)
        for module in sorted(graph.modules)
        for imported in sorted(graph.find_modules_directly_imported_by(module))
        if graph.chain_exists(importer=imported, imported=module)
    ]
    assert circles == []
