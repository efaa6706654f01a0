"""Panel's own stylesheets always come from the dashboard's static route, never from its CDN.

Panel points a component's stylesheets (``loading.css``, ``markdown.css``, the Bootstrap theme,
…) at the URL in its document's ``dist_url`` template variable, and where there is no document
or no variable, at cdn.holoviz.org (``Reactive._get_properties``, ``patch_stylesheet``). Two
paths reach that fallback in a served dashboard:

- a session Bokeh makes afresh when a browser's websocket names a session that expired before
  it connected (Bokeh drops one nobody connected to within 15 s: a slow reload on a busy
  machine). Only Panel's page render sets ``dist_url``, and that page was never rendered for
  this document: ``serve_assets_locally`` sets it when the session's document is made;
- a page that updates while its tab is hidden (a run's poll): a dynamic tab keeps the hidden
  page's models outside the document, so they are rebuilt against the CDN and the browser
  fetches it when the tab is shown again. ``Tabs`` points them back at the app first.
"""

from __future__ import annotations

from typing import Any

import panel as pn
from bokeh.document import Document
from panel.io.resources import LOCAL_DIST, patch_model_css

__all__ = ["Tabs", "serve_assets_locally"]


def serve_assets_locally(doc: Document) -> None:
    """Name this server's static route as Panel's ``dist_url`` in ``doc``."""
    rel_path = pn.state.rel_path
    doc.template_variables["dist_url"] = f"{rel_path}/{LOCAL_DIST}" if rel_path else LOCAL_DIST


class Tabs(pn.Tabs):
    """``pn.Tabs`` whose pages, shown again after updates while hidden, link no CDN stylesheet."""

    def _get_objects(
        self, model: Any, old_objects: Any, doc: Document | None, root: Any, comm: Any = None
    ) -> tuple[list[Any], list[Any]]:
        new_models, old_models = super()._get_objects(model, old_objects, doc, root, comm)
        dist_url = doc.template_variables.get("dist_url") if doc is not None else None
        if dist_url:
            for tab_panel in new_models:  # the page models before they (re)join the document
                patch_model_css(tab_panel, dist_url=dist_url)
        return new_models, old_models
