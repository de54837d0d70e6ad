"""Versioned saves against a model: whatever the batches, each id holds its highest accepted version."""

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_examples = itertools.count()

batches = st.lists(
    st.lists(st.tuples(st.integers(1, 6), st.integers(1, 8)), max_size=12),
    min_size=1, max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=batches)
def test_saves_match_a_model_of_versions(store, batches):
    base = (next(_examples) + 1) * 100  # each example uses fresh ids in the shared store
    model: dict[int, tuple[int, bytes]] = {}
    for batch in batches:
        rows = [[base + i, "Pig", None, "field", v, f"{i}:{v}:{k}".encode()]
                for k, (i, v) in enumerate(batch)]
        outcome = store.save_entities(rows)
        # the model: per id, the highest version of the batch, saved only if above the stored one
        best: dict[int, list] = {}
        for row in rows:
            if row[0] not in best or row[4] > best[row[0]][4]:
                best[row[0]] = row
        expected_saved = set()
        for entity_id, row in best.items():
            if entity_id not in model or row[4] > model[entity_id][0]:
                model[entity_id] = (row[4], row[5])
                expected_saved.add(entity_id)
        assert expected_saved == set(outcome.saved)
        assert len(rows) == len(outcome.saved) + len(outcome.refused)
        stored = {r.entity_id: (r.version, r.state) for r in store.load_entities(range(base + 1, base + 7))}
        assert model == stored
