"""The impact report (issue 17): its figures (``figures``), charts (``charts``, SVG drawn
here, with no plotting library) and its HTML, CSV and JSON forms (``render``)."""
