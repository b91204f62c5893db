"""
OpenLineage for the provider's operators, built from OpenLineage's own classes when its provider is there.

A generation reads a model (a dataset ``models/<id>`` in the API's namespace) and writes images on
apiframe's CDN; a store reads those images and writes a folder of the user's storage. Images are
reported by folder (one dataset per CDN or storage folder, with how many images it received), not one
dataset per image: a batch of 10,000 rows makes one output, not 10,000. Without the OpenLineage
provider every function here returns None and the operators behave as before.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage


def _folders(urls: Iterable[str]) -> Counter[tuple[str, str]]:
    """(namespace, folder) of each URL or storage path, with how many files each holds."""
    found: Counter[tuple[str, str]] = Counter()
    for url in urls:
        parts = urlsplit(url)
        namespace = f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme or 'file'}://"
        found[namespace, posixpath.dirname(parts.path) or "/"] += 1
    return found


def generation_lineage(
    api_url: str, model: str, images: Sequence[str], credits: int | None = None
) -> OperatorLineage | None:
    """
    Describe a generate or batch task's lineage: the model in, the images' CDN folders out.

    What the task spent, when it is known, is the run facet ``apiframe_spend``.
    """
    lineage = _lineage([(api_url.rstrip("/"), f"models/{model}")], _folders(images))
    if lineage is not None and credits is not None:
        from airflow_provider_apiframe.lineage_facets import ApiframeSpendRunFacet

        lineage.run_facets["apiframe_spend"] = ApiframeSpendRunFacet(credits=credits, model=model)
    return lineage


def store_lineage(sources: Sequence[str], stored: Sequence[str]) -> OperatorLineage | None:
    """Describe a store task's lineage: the CDN folders the images came from in, the storage folders out."""
    return _lineage(list(_folders(sources)), _folders(stored))


def _lineage(inputs: Sequence[tuple[str, str]], outputs: Counter[tuple[str, str]]) -> OperatorLineage | None:
    try:
        from airflow.providers.common.compat.openlineage.facet import (
            InputDataset,
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    return OperatorLineage(
        inputs=[InputDataset(namespace=namespace, name=name) for namespace, name in inputs],
        outputs=[
            OutputDataset(
                namespace=namespace,
                name=name,
                outputFacets={"outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=count)},
            )
            for (namespace, name), count in outputs.items()
        ],
    )
