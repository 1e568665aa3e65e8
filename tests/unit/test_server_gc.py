"""``serve`` freezes what its start-up made, so the collector's full passes walk only what
requests and jobs make later (bench/console: 110-140 ms pauses with every thread stopped)."""

from __future__ import annotations

import gc

from wachter.server import freeze_what_startup_made


def test_start_up_objects_leave_the_collectors_sight_and_new_ones_do_not():
    before = gc.get_freeze_count()
    try:
        freeze_what_startup_made()
        frozen = gc.get_freeze_count()
        assert frozen > before + 10_000  # modules, functions, the test session's objects
        made_later = [[n] for n in range(1000)]
        assert gc.is_tracked(made_later)
        assert gc.get_freeze_count() == frozen  # later objects stay collectable
        assert len(gc.get_objects()) < frozen  # a full pass walks the few, not the many
    finally:
        gc.unfreeze()
