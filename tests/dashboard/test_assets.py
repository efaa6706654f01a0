"""The dashboard's stylesheets come from the dashboard, however its session's document is made."""

import panel as pn
from bokeh.document import Document
from bokeh.models import ImportedStyleSheet
from panel.io.state import set_curdoc

from dashboard.app import TABS, DashboardApp, session_page
from tests.dashboard.conftest import PASSWORD


def stylesheet_urls(doc):
    return {
        str(sheet.url) for root in doc.roots for sheet in root.select({"type": ImportedStyleSheet})
    }


def test_a_session_made_without_panels_page_render_links_no_cdn_stylesheet(context, exam, users):
    # What Bokeh does when a browser's websocket names a session that expired before it
    # connected: it makes the session's document afresh, and Panel's page render (the only
    # place that sets the ``dist_url`` Panel links its own stylesheets from) never runs.
    doc = Document()
    with set_curdoc(doc):
        app = DashboardApp(context)
        session_page(context, app).server_doc(doc)
        app.login.param.update(username="ada", password=PASSWORD)
        assert app.login.submit()
        tabs = app._main.objects[0]
        for index in range(len(TABS)):  # the tabs are dynamic: each builds its models when shown
            tabs.active = index
    urls = stylesheet_urls(doc)
    assert any("css/loading.css" in url for url in urls), urls
    assert any("css/markdown.css" in url for url in urls), urls
    remote = sorted(url for url in urls if url.startswith(("http:", "https:", "//")))
    assert remote == [], remote
    assert all(url.startswith(pn.io.resources.LOCAL_DIST) for url in urls if ".css" in url)
