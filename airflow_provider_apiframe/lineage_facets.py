"""
The provider's own OpenLineage facet: what a task spent, in credits.

Apart from :mod:`.lineage` because defining it imports OpenLineage's client, which a DAG file's import
should not pay for: only a task that reports lineage imports this module.
"""

from __future__ import annotations

from attrs import define
from openlineage.client.facet_v2 import RunFacet


@define
class ApiframeSpendRunFacet(RunFacet):
    """Credits a task's apiframe jobs cost (as the API charged them), and the model they ran."""

    credits: int
    model: str
