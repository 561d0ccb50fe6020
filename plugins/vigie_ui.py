"""Airflow's plugin manager imports this file from the plugins folder: Vigie's pages in the UI.

The plugin itself is :class:`vigie.ui.plugin.VigiePlugin` (a FastAPI app mounted at ``/vigie``
in the API server, and "Vigie" in the navigation). It is registered from here, not as a
package entry point: the editable install leaves ``plugins/vigie.egg-info`` on ``sys.path``
beside the real distribution, so an entry point would be found twice and Airflow would report
the second one as a plugin import error. ``.airflowignore`` keeps the plugin manager out of
``vigie/`` itself. Importing this file is cheap: no FastAPI app, no warehouse, until the API
server asks for the app.
"""

from vigie.ui.plugin import VigiePlugin

__all__ = ["VigiePlugin"]
