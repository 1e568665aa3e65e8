"""Processing pipelines: how a rule's logsource and field names meet the events Wachter stores.

    build_pipeline(names)  -> ProcessingPipeline  the named ones, combined in sigma-cli's order
    default_pipeline()     -> ProcessingPipeline  build_pipeline(DEFAULT_PIPELINES)
    PIPELINE_NAMES         name -> one-line description (sysmon, windows, windows-audit,
                           ecs_windows, wachter)
    DEFAULT_PIPELINES      what the service and ``wachter detect`` use when none is named

A pipeline adds the condition that selects a logsource's events (``Channel``/``EventID`` for
Windows, ``event.dataset`` or ``wachter.logsource`` for Wachter's sources) and maps field
names. A rule whose logsource no chosen pipeline knows is left as written and so applies to
every event. docs/detection-pack.md lists the logsources and their fields.
"""

from detection_rules.pipelines.loader import (
    DEFAULT_PIPELINES,
    PIPELINE_NAMES,
    build_pipeline,
    default_pipeline,
)

__all__ = ["DEFAULT_PIPELINES", "PIPELINE_NAMES", "build_pipeline", "default_pipeline"]
