"""Named processing pipelines, combined in the order sigma-cli would apply them.

pySigma's pipelines come from their packages (``sysmon``; ``windows`` and ``windows-audit``
from pySigma-pipeline-windows; ``ecs_windows`` from pySigma-backend-elasticsearch); Wachter's
own are YAML files beside this module, read with ``ProcessingPipeline.from_yaml``. Names are
resolved here and not through pySigma's ``ProcessingPipelineResolver``, which reads any name
it does not know as a file path: a name typed by a user must never open a file.

A ``ProcessingPipeline`` keeps state while it processes a rule, and adding pipelines rebinds
their items to the sum, so every call builds fresh pipelines and a caller keeps its result to
itself (one per rule load, not shared between threads).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from importlib import resources
from types import MappingProxyType
from typing import Final

from sigma.pipelines.elasticsearch.windows import ecs_windows
from sigma.pipelines.sysmon.sysmon import sysmon_pipeline
from sigma.pipelines.windows.windows import windows_audit_pipeline, windows_logsource_pipeline
from sigma.processing.pipeline import ProcessingPipeline

from core import InvalidInput
from core.i18n import N_

PIPELINE_NAMES: Final = MappingProxyType(
    {
        "sysmon": N_("Generic Windows categories (process_creation, …) as Sysmon event ids"),
        "windows": N_("Windows services (security, powershell, …) as event log channels"),
        "windows-audit": N_(
            "process_creation and registry categories as Security events 4688 and 4657"
        ),
        "ecs_windows": N_("Windows field names as Winlogbeat 7+ writes them (winlog.*, ECS)"),
        "wachter": N_(
            "Wachter's own logsources: Linux auth, VPN, badge, web server, authentication, "
            "Wachter itself"
        ),
    }
)
# The events Wachter stores from Windows are flat EVTX-JSON (Image, EventID, Channel at the
# top, as ingest.parsers.windows keeps them); SigmaHQ's regression suite passes 202 of 202
# with sysmon + windows (docs/detection-pack.md). Winlogbeat users choose ecs_windows.
DEFAULT_PIPELINES: Final = ("sysmon", "windows", "wachter")
# sigma-cli applies pipelines by priority, then by name; this is that order for these five
# (sysmon 10, windows-audit 10, windows-logsources 10, ecs_windows 20, wachter 30). It
# matters: sysmon turns process_creation into service sysmon before windows adds its Channel.
_ORDER: Final = ("sysmon", "windows-audit", "windows", "ecs_windows", "wachter")
# Both rewrite process_creation and registry rules, to Sysmon ids and to Security ids; a rule
# rewritten by both requires EventID 1 and 4688 at once and can never match.
_EXCLUSIVE: Final = (("sysmon", "windows-audit"),)


def _package_pipeline(file_name: str) -> ProcessingPipeline:
    return ProcessingPipeline.from_yaml(_pipeline_text(file_name))


@functools.cache
def _pipeline_text(file_name: str) -> str:
    return (resources.files(__package__) / file_name).read_text(encoding="utf-8")


_FACTORIES: Final[dict[str, Callable[[], list[ProcessingPipeline]]]] = {
    "sysmon": lambda: [sysmon_pipeline()],
    "windows-audit": lambda: [windows_audit_pipeline()],
    "windows": lambda: [windows_logsource_pipeline()],
    "ecs_windows": lambda: [ecs_windows(), _package_pipeline("ecs_windows_stored.yml")],
    "wachter": lambda: [_package_pipeline("wachter.yml")],
}


def build_pipeline(names: Sequence[str]) -> ProcessingPipeline:
    """One pipeline of the named ones (any order, repeats ignored); ``[]`` changes nothing.

    Raises ``InvalidInput`` for a name not in ``PIPELINE_NAMES`` and for a combination whose
    pipelines contradict each other.
    """
    chosen = {_checked_name(name) for name in names}
    for first, second in _EXCLUSIVE:
        if first in chosen and second in chosen:
            raise InvalidInput(
                N_(
                    "The pipelines %(first)s and %(second)s cannot be combined: both rewrite "
                    "process_creation and registry rules, and a rule rewritten by both can "
                    "never match. Choose one."
                ),
                field="pipeline",
                first=first,
                second=second,
            )
    parts = [pipeline for name in _ORDER if name in chosen for pipeline in _FACTORIES[name]()]
    combined = sum(parts, ProcessingPipeline())
    combined.name = "+".join(name for name in _ORDER if name in chosen) or None
    return combined


def default_pipeline() -> ProcessingPipeline:
    """``build_pipeline(DEFAULT_PIPELINES)``: what the service and ``wachter detect`` use."""
    return build_pipeline(DEFAULT_PIPELINES)


def _checked_name(name: str) -> str:
    normal = name.strip().lower()
    if normal not in PIPELINE_NAMES:
        raise InvalidInput(
            N_("Unknown pipeline \u201c%(name)s\u201d; choose from %(choices)s."),
            field="pipeline",
            name=name[:40],
            choices=", ".join(PIPELINE_NAMES),
        )
    return normal
